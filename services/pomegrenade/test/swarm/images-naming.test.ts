// Pure parts of deployment images: repository names of projects, tags, the generated Dockerfile
// (hostile environment values and process types), and the base image's content hash.
import { describe, expect, it } from 'vitest';
import { type BaseRecipe, baseImageKey, hostSuite } from '../../src/runtime/swarm/base-image.js';
import {
  deploymentDockerfile,
  dockerfileEnvValue,
  imageRepository,
  imageTag,
  parseTag,
} from '../../src/runtime/swarm/images.js';

describe('imageRepository', () => {
  it.each([
    ['hello', 'hello'],
    ['my-app', 'my-app'],
    ['a_b', 'a_b'],
  ])('keeps a valid name %s', (project, expected) => {
    expect(imageRepository(project)).toBe(expected);
  });

  it.each(['MyApp', 'myapp-', '-x', 'a__b-', 'app; rm -rf /', '../../etc', 'x'.repeat(70), 'ÄÖÜ', ''])(
    'turns %j into a valid, distinct repository name',
    (project) => {
      const r = imageRepository(project);
      expect(r).toMatch(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/);
      expect(r.length).toBeLessThanOrEqual(64);
      expect(r).not.toBe(project);
    },
  );

  it('does not merge projects differing only in case', () => {
    expect(imageRepository('App')).not.toBe(imageRepository('app'));
    expect(imageRepository('App')).not.toBe(imageRepository('APP'));
  });
});

describe('imageTag / parseTag', () => {
  it('round-trips', () => {
    const tag = imageTag('127.0.0.1:5000', 'hello', 3);
    expect(tag).toBe('127.0.0.1:5000/hello:v3');
    expect(parseTag(tag)).toEqual({ registry: '127.0.0.1:5000', repository: 'hello', tag: 'v3' });
  });

  it.each([
    ['registry with a path', () => imageTag('127.0.0.1:5000/x', 'a', 1)],
    ['registry with a scheme', () => imageTag('http://r', 'a', 1)],
    ['number 0', () => imageTag('r:1', 'a', 0)],
    ['fractional number', () => imageTag('r:1', 'a', 1.5)],
    ['tag without registry', () => parseTag('hello:v1')],
    ['tag with spaces', () => parseTag('r:1/a b:v1')],
    ['tag with traversal in tag', () => parseTag('r:1/a:../x')],
    ['upper-case repository', () => parseTag('r:1/Hello:v1')],
  ])('refuses %s', (_n, f) => {
    expect(f).toThrow(/image:/);
  });
});

describe('dockerfileEnvValue', () => {
  it.each([
    ['plain', 'production', '"production"'],
    ['variable reference stays literal', '/app/.venv/bin:$PATH', '"/app/.venv/bin:\\$PATH"'],
    ['quotes', 'say "hi"', '"say \\"hi\\""'],
    ['backslash', 'a\\', '"a\\\\"'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is the input under test
    ['braces', '${HOME}', '"\\${HOME}"'],
  ])('%s', (_n, v, expected) => {
    expect(dockerfileEnvValue(v)).toBe(expected);
  });

  it.each(['a\nRUN rm -rf /', 'a\r\nUSER root'])('refuses a line break in %j', (v) => {
    expect(() => dockerfileEnvValue(v)).toThrow(/several lines/);
  });
});

describe('deploymentDockerfile', () => {
  const base = 'paastech/base:0123456789abcdef';

  it('builds FROM the base, copies the artifact, bakes the builder env, not config', () => {
    const text = deploymentDockerfile(base, {
      project: 'hello',
      number: 2,
      processes: { web: 'node server.js', worker: 'node w.js' },
      env: { NODE_ENV: 'production', PATH: '/app/node_modules/.bin:/usr/bin:/bin' },
    });
    expect(text.split('\n')).toEqual([
      `FROM ${base}`,
      'COPY app /app',
      'COPY paastech /paastech',
      'ENV NODE_ENV="production"',
      'ENV PATH="/app/node_modules/.bin:/usr/bin:/bin"',
      'LABEL paastech.project="hello" paastech.deployment="v2" paastech.processes="web,worker"',
      'WORKDIR /app',
      'ENTRYPOINT ["/paastech/run"]',
      'CMD ["web"]',
      '',
    ]);
  });

  it.each([
    ['process type with a slash', { '../x': 'a' }, {}],
    ['process type with a space', { 'web x': 'a' }, {}],
    ['env name with =', { web: 'a' }, { 'A=B': 'x' }],
    ['env name with newline', { web: 'a' }, { 'A\nRUN x': 'x' }],
    ['env value with newline', { web: 'a' }, { A: 'x\nRUN id' }],
  ])('refuses %s', (_n, processes, env) => {
    expect(() => deploymentDockerfile(base, { project: 'p', number: 1, processes, env })).toThrow(/image:/);
  });
});

describe('baseImageKey', () => {
  const recipe: BaseRecipe = {
    suite: 'bookworm',
    mirror: 'http://deb.debian.org/debian',
    packages: ['python3', 'ca-certificates'],
    nodeVersion: 'v20.0.0',
    nodeSha256: 'a'.repeat(64),
    npmVersion: '10.0.0',
  };

  it('is stable, ignores package order, and changes with every input', () => {
    const k = baseImageKey(recipe);
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(baseImageKey({ ...recipe, packages: ['ca-certificates', 'python3'] })).toBe(k);
    for (const change of [
      { suite: 'trixie' },
      { mirror: 'http://mirror.example/debian' },
      { packages: ['python3'] },
      { nodeVersion: 'v20.0.1' },
      { nodeSha256: 'b'.repeat(64) },
      { npmVersion: '10.0.1' },
    ]) {
      expect(baseImageKey({ ...recipe, ...change })).not.toBe(k);
    }
  });
});

describe('hostSuite', () => {
  it.each([
    ['VERSION_CODENAME=bookworm\n', 'bookworm'],
    ['NAME="Debian"\nVERSION_CODENAME="trixie"\n', 'trixie'],
  ])('reads %j', (text, expected) => {
    expect(hostSuite(text)).toBe(expected);
  });

  it.each(['NAME=Alpine\n', 'VERSION_CODENAME=bookworm; rm -rf /\n'])('refuses %j', (text) => {
    expect(() => hostSuite(text)).toThrow(/VERSION_CODENAME/);
  });
});
