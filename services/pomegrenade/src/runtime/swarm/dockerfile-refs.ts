// Which images a tenant's Dockerfile may build from. The Docker daemon that runs `docker build` on
// the manager holds every project's deployment images and reaches the platform's registry, so a
// `FROM <registry>/<other project>:v3` (or `COPY --from=` it, or its image id) would hand one
// tenant another tenant's code. Rule: an image the Dockerfile names is a public/base image or the
// project's own repository; never another repository of the platform's registry (by any loopback
// spelling), never an image id, and never a variable that could become either.

/** Registry hosts that name this machine whatever the configured spelling. */
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)(?::\d{1,5})?$/i;

/** The instructions of a Dockerfile (pure): line continuations joined, comments and blanks dropped. */
export function dockerfileInstructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = current === '' ? raw.trimStart() : raw;
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push((current + line).trim());
    current = '';
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

/** The registry host of an image reference, or "" for Docker Hub (pure). */
function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return '';
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')
    ? first
    : '';
}

/**
 * Why the Dockerfile may not be built, or null (pure). `registry` is the platform's registry
 * (host[:port]); `ownRepository` the project's repository in it.
 */
export function dockerfileRefsProblem(text: string, registry: string, ownRepository: string): string | null {
  const stages = new Set<string>();
  const check = (ref: string, where: string): string | null => {
    if (ref.includes('$')) return `${where} "${ref}": image names may not use variables`;
    if (stages.has(ref.toLowerCase())) return null;
    if (/^(sha256:)?[0-9a-f]{12,64}$/i.test(ref))
      return `${where} "${ref}": image ids are not allowed; name the image`;
    const host = registryOf(ref);
    const ours = host !== '' && (host.toLowerCase() === registry.toLowerCase() || LOOPBACK.test(host));
    if (!ours) return null;
    const repository = ref.slice(host.length + 1).split(/[@:]/)[0] ?? '';
    if (repository === ownRepository) return null;
    return `${where} "${ref}": only this project's own images may come from the platform's registry`;
  };
  for (const instruction of dockerfileInstructions(text)) {
    const [keyword = '', ...words] = instruction.split(/\s+/);
    const kw = keyword.toUpperCase();
    if (kw === 'FROM') {
      const args = words.filter((w) => !w.startsWith('--'));
      const ref = args[0] ?? '';
      const problem = check(ref, 'FROM');
      if (problem) return problem;
      if (args[1]?.toUpperCase() === 'AS' && args[2]) stages.add(args[2].toLowerCase());
      continue;
    }
    for (const w of words) {
      const flag = /^--(?:from|mount=.*\bfrom)=([^,\s]+)/i.exec(w);
      if (!flag?.[1]) continue;
      if (/^\d+$/.test(flag[1])) continue; // a stage by index
      const problem = check(flag[1], `${kw} --from`);
      if (problem) return problem;
    }
  }
  return null;
}
