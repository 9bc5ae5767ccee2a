// The buildpack setting of a project: null (auto-detect), the NAME of a buildpack the operator
// installed on the build host, or an https:// git URL with an optional #ref. Invariant: a value this
// accepts can never name a path on the build host — names are one [a-z0-9-] label that Pomegrenade
// looks up in its own buildpacks directory, and URLs are https:// without credentials. The URL and
// ref rules are those of Pomegrenade's parser (services/pomegrenade/src/build/buildpack.ts), which
// checks again at build time.
import { ValidateBy, type ValidationOptions } from 'class-validator';

/** An operator-installed buildpack's name: a directory under PAASTECH_BUILDPACKS_DIR. */
export const BUILDPACK_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const GIT_URL = /^https:\/\/[A-Za-z0-9.-]+(:\d+)?\/[A-Za-z0-9._~/%+-]*$/;
const GIT_REF = /^[A-Za-z0-9._/-]{1,200}$/;
export const BUILDPACK_MAX_LENGTH = 512;

const SHAPE =
  'buildpack must be null (auto-detect), the name of an installed buildpack (1-63 of a-z, 0-9 and -, starting with a letter or digit) or an https:// git URL with an optional #ref';

/** Why `value` is not an acceptable buildpack setting, or null when it is. */
export function buildpackProblem(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') return `${SHAPE}; got ${value === undefined ? 'nothing' : typeof value}`;
  if (value.length === 0) return `${SHAPE}; use null to go back to auto-detection`;
  if (value.length > BUILDPACK_MAX_LENGTH)
    return `buildpack must be at most ${BUILDPACK_MAX_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\s\x00-\x1f\x7f]/.test(value)) return 'buildpack must not contain whitespace or control characters';
  if (BUILDPACK_NAME.test(value)) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return /[/\\.]/.test(value) || value.includes('@')
      ? `${SHAPE}; paths on the server and scp-style git@ addresses are not accepted`
      : SHAPE;
  }
  if (!/^https:\/\//.test(value))
    return 'buildpack URL must use https:// (http, file, ssh and git are refused)';
  const [url = '', ref, ...rest] = value.split('#');
  const authority = url.slice('https://'.length).split('/')[0] ?? '';
  if (authority.includes('@'))
    return 'buildpack URL must not hold credentials (user:password@): a buildpack repository must be public';
  if (rest.length > 0) return 'buildpack URL may hold at most one #ref';
  if (!GIT_URL.test(url))
    return 'buildpack URL must be https://host[:port]/path with letters, digits and . _ ~ / % + - only';
  if (ref !== undefined && (!GIT_REF.test(ref) || ref.startsWith('-') || ref.includes('..')))
    return 'buildpack ref (after #) must be a branch or tag name: 1-200 of letters, digits, . _ / -, not starting with - and without ..';
  return null;
}

/** class-validator rule: the value passes buildpackProblem; the message is the rule it broke. */
export function IsBuildpack(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBuildpack',
      validator: {
        validate: (value: unknown) => buildpackProblem(value) === null,
        defaultMessage: (args) => buildpackProblem(args?.value) ?? SHAPE,
      },
    },
    options,
  );
}
