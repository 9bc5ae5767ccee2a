// GET/PATCH /api/v1/projects/:name/settings on the real API (Nest + Fastify, real database, a real
// GitService contract server): defaults, a change and its reset, every broken rule named, hostile
// input, and the cross-tenant matrix (owner / another Client / anonymous / revoked / expired).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signUp, startTestApi, type TestApi, type TestClient } from './support/api.js';
import { DIALECTS } from './support/databases.js';
import { type GitContractServer, startGitContractServer } from './support/git-contract-server.js';
import { type Actors, type MatrixRoute, makeActors, ownerOnly, runMatrix } from './support/matrix.js';

let seq = 0;
/** A project name no test used yet. */
const fresh = () => `set-${process.pid}-${++seq}`;

/** A project of `owner`, created through the API. */
async function ownedProject(api: TestApi, owner: TestClient): Promise<string> {
  const name = fresh();
  const res = await call(api, 'POST', '/api/v1/projects', { body: { name }, as: { token: owner.token } });
  if (res.status !== 201) throw new Error(`project creation failed: ${res.status} ${res.text}`);
  return name;
}

const DEFAULTS = {
  health_check_path: null,
  builder: 'auto',
  buildpack: null,
  egress: true,
  limits: { memory_mb: null, cpu_millicores: null, max_processes: null, disk_mb: null },
  applies: 'changes apply at the next deployment; egress applies at once',
};

/** The rules a refused buildpack's 400 names. */
const BP_SHAPE =
  /buildpack must be null \(auto-detect\), the name of an installed buildpack \(1-63 of a-z, 0-9 and -/;
const BP_PATH = /paths on the server and scp-style git@ addresses are not accepted/;
const BP_SCHEME = /buildpack URL must use https:\/\/ \(http, file, ssh and git are refused\)/;
const BP_CREDENTIALS = /buildpack URL must not hold credentials \(user:password@\)/;
const BP_URL = /buildpack URL must be https:\/\/host\[:port\]\/path/;
const BP_REF = /buildpack ref \(after #\) must be a branch or tag name/;
const BP_SPACE = /buildpack must not contain whitespace or control characters/;

/** Buildpack values a Client must never get stored: none may name a path on the build host. */
function hostileBuildpacks(): [string, unknown, RegExp][] {
  const bp: [string, unknown, RegExp][] = [
    ['absolute path', '/etc', BP_PATH],
    ['absolute path to a buildpack', '/var/lib/paastech/buildpacks/python', BP_PATH],
    ['relative path', 'buildpacks/python', BP_PATH],
    ['dot-dot', '..', BP_PATH],
    ['dot-dot path', '../../etc', BP_PATH],
    ['dot', '.', BP_PATH],
    ['name with a dot', 'python.v2', BP_PATH],
    ['home path', '~root', BP_SHAPE],
    ['backslash path', '..\\..\\etc', BP_PATH],
    ['upper-case name', 'Python', BP_SHAPE],
    ['name starting with -', '-python', BP_SHAPE],
    ['option-like', '--upload-pack=touch /tmp/x', BP_SPACE],
    ['name of 64 characters', 'a'.repeat(64), BP_SHAPE],
    ['file:// URL', 'file:///etc', BP_SCHEME],
    ['http:// URL', 'http://example.com/bp.git', BP_SCHEME],
    ['ssh:// URL', 'ssh://git@example.com/bp.git', BP_SCHEME],
    ['git:// URL', 'git://example.com/bp.git', BP_SCHEME],
    ['ext:: transport', 'ext::sh -c touch% /tmp/pwned', BP_SPACE],
    ['scp-style git@', 'git@github.com:heroku/heroku-buildpack-python.git', BP_PATH],
    ['URL with user:password', 'https://user:pass@example.com/bp.git', BP_CREDENTIALS],
    ['URL with a token', 'https://ghp_abc123@github.com/o/bp.git', BP_CREDENTIALS],
    ['URL with an empty user', 'https://@example.com/bp.git', BP_CREDENTIALS],
    ['URL without a path', 'https://example.com', BP_URL],
    ['URL with a query', 'https://example.com/bp.git?x=1', BP_URL],
    ['URL with a bad host', 'https://exa_mple.com/bp', BP_URL],
    ['URL with two refs', 'https://example.com/bp.git#a#b', /at most one #ref/],
    ['option-like ref', 'https://example.com/bp.git#--upload-pack=x', BP_REF],
    ['dot-dot ref', 'https://example.com/bp.git#a/../b', BP_REF],
    ['empty ref', 'https://example.com/bp.git#', BP_REF],
    ['ref with a colon', 'https://example.com/bp.git#a:b', BP_REF],
    ['leading space', ' python', BP_SPACE],
    ['trailing newline', 'python\n', BP_SPACE],
    ['tab inside', 'heroku\tpython', BP_SPACE],
    ['NUL byte', 'python\u0000', BP_SPACE],
    ['CRLF in a URL', 'https://example.com/bp.git\r\nHost: evil', BP_SPACE],
    ['DEL character', 'python\u007f', BP_SPACE],
    ['over-long URL', `https://example.com/${'b'.repeat(493)}`, /buildpack must be at most 512 characters/],
    ['empty string', '', /use null to go back to auto-detection/],
    ['a number', 42, /got number/],
    ['an array', ['python'], /got object/],
    ['an object', { url: 'https://example.com/bp.git' }, /got object/],
    ['a boolean', true, /got boolean/],
  ];
  return bp.map(([what, value, rule]) => [`buildpack: ${what}`, { buildpack: value }, rule]);
}

/** Bodies a PATCH must refuse, each with the rule its 400 must name. */
const BAD_BODIES: [string, unknown, RegExp][] = [
  [
    'memory below 16 MB',
    { limits: { memory_mb: 8 } },
    /limits\.memory_mb: memory_mb must be a whole number from 16 to 1048576/,
  ],
  [
    'memory above 1 TB',
    { limits: { memory_mb: 1_048_577 } },
    /memory_mb must be a whole number from 16 to 1048576/,
  ],
  ['memory as a string', { limits: { memory_mb: '512' } }, /memory_mb must be a whole number/],
  [
    'fractional cpu',
    { limits: { cpu_millicores: 250.5 } },
    /cpu_millicores must be a whole number from 100 to 256000/,
  ],
  ['negative processes', { limits: { max_processes: -1 } }, /max_processes must be a whole number from 8/],
  ['zero disk', { limits: { disk_mb: 0 } }, /disk_mb must be a whole number from 1/],
  ['unknown limit', { limits: { swap_mb: 10 } }, /limits\.swap_mb: property swap_mb should not exist/],
  ['limits not an object', { limits: 512 }, /limits must be an object/],
  ['limits null', { limits: null }, /limits must be an object/],
  [
    'unknown builder',
    { builder: 'dockerfile' },
    /builder must be one of auto, node, static, python, procfile/,
  ],
  ['builder null', { builder: null }, /builder must be one of/],
  ['builder injection', { builder: 'node; rm -rf /' }, /builder must be one of/],
  ['egress as a string', { egress: 'false' }, /egress must be true or false/],
  ['egress null', { egress: null }, /egress must be true or false/],
  ['relative health path', { health_check_path: 'healthz' }, /health_check_path must start with \//],
  ['health path with a space', { health_check_path: '/a b' }, /health_check_path must start with \//],
  [
    'health path with CRLF',
    { health_check_path: '/x\r\nHost: evil' },
    /health_check_path must start with \//,
  ],
  [
    'health path too long',
    { health_check_path: `/${'a'.repeat(256)}` },
    /health_check_path must start with \//,
  ],
  ['health path not a string', { health_check_path: ['/'] }, /health_check_path must be a string/],
  ...hostileBuildpacks(),
  ['unknown field', { region: 'eu' }, /region: property region should not exist/],
  ['prototype pollution', JSON.parse('{"__proto__": {"egress": false}}'), /__proto__.{0,2} is not allowed/],
  ['an array body', [{ egress: false }], /body must be a JSON object/],
];

describe.each(DIALECTS)('settings routes on %s', (dialect) => {
  let api: TestApi;
  let git: GitContractServer;
  let alice: TestClient;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    git = await startGitContractServer({
      address: `unix:${api.database.dataDir}/run/git.sock`,
      secret: api.internalSecret,
    });
    alice = await signUp(api, 'alice');
  });
  afterAll(async () => {
    await api?.stop();
    await git?.stop();
  });

  const as = (c: TestClient) => ({ token: c.token });

  it('a new project has the platform defaults', async () => {
    const name = await ownedProject(api, alice);
    const res = await call(api, 'GET', `/api/v1/projects/${name}/settings`, { as: as(alice) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(DEFAULTS);
  });

  it('PATCH changes the given fields, keeps the others, and null resets a limit', async () => {
    const name = await ownedProject(api, alice);
    const path = `/api/v1/projects/${name}/settings`;
    const changed = await call(api, 'PATCH', path, {
      body: {
        health_check_path: '/healthz?deep=1',
        builder: 'static',
        egress: false,
        limits: { memory_mb: 16, cpu_millicores: 256_000, max_processes: 8, disk_mb: 1 },
      },
      as: as(alice),
    });
    expect(changed.status).toBe(200);
    const expected = {
      ...DEFAULTS,
      health_check_path: '/healthz?deep=1',
      builder: 'static',
      egress: false,
      limits: { memory_mb: 16, cpu_millicores: 256_000, max_processes: 8, disk_mb: 1 },
    };
    expect(changed.body).toEqual(expected);
    expect((await call(api, 'GET', path, { as: as(alice) })).body).toEqual(expected);
    const reset = await call(api, 'PATCH', path, {
      body: { limits: { memory_mb: null }, health_check_path: null },
      as: as(alice),
    });
    expect(reset.body).toEqual({
      ...expected,
      health_check_path: null,
      limits: { ...expected.limits, memory_mb: null },
    });
    const empty = await call(api, 'PATCH', path, { body: {}, as: as(alice) });
    expect(empty.body).toEqual(reset.body);
  });

  it('PATCH sets a buildpack (installed name or https git URL with a ref), null goes back to auto-detect', async () => {
    const name = await ownedProject(api, alice);
    const path = `/api/v1/projects/${name}/settings`;
    for (const buildpack of [
      'custom-buildpack',
      '0',
      'a'.repeat(63),
      'https://github.com/heroku/heroku-buildpack-python',
      'https://git.example.com:8443/team/bp.git#v1.2.3',
      'https://example.com/bp.git#release/2024_10',
      `https://example.com/${'b'.repeat(492)}`,
    ]) {
      const res = await call(api, 'PATCH', path, { body: { buildpack }, as: as(alice) });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ ...DEFAULTS, buildpack });
      expect((await call(api, 'GET', path, { as: as(alice) })).body).toEqual({ ...DEFAULTS, buildpack });
    }
    // Fields left out keep the buildpack; null clears it.
    const other = await call(api, 'PATCH', path, { body: { egress: false }, as: as(alice) });
    expect(other.body).toMatchObject({ buildpack: `https://example.com/${'b'.repeat(492)}`, egress: false });
    const cleared = await call(api, 'PATCH', path, { body: { buildpack: null }, as: as(alice) });
    expect(cleared.body).toEqual({ ...DEFAULTS, egress: false });
  });

  it.each(BAD_BODIES)('refuses %s with the rule it broke, storing nothing', async (_what, body, rule) => {
    const name = await ownedProject(api, alice);
    const path = `/api/v1/projects/${name}/settings`;
    const res = await call(api, 'PATCH', path, { body, as: as(alice) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.text, res.text).toMatch(rule);
    expect((await call(api, 'GET', path, { as: as(alice) })).body).toEqual(DEFAULTS);
  });

  it.each(['nope', 'A-B', '..', '%00', 'x'.repeat(64)])(
    'an impossible project name %j is a 404',
    async (name) => {
      const res = await call(api, 'GET', `/api/v1/projects/${encodeURIComponent(name)}/settings`, {
        as: as(alice),
      });
      expect(res.status).toBe(404);
    },
  );
});

const SETTINGS_ROUTES: MatrixRoute[] = [
  {
    name: 'GET /projects/:name/settings',
    method: 'GET',
    prepare: async (api, owner) => ({ path: `/api/v1/projects/${await ownedProject(api, owner)}/settings` }),
    expect: ownerOnly(200),
  },
  {
    name: 'PATCH /projects/:name/settings',
    method: 'PATCH',
    prepare: async (api, owner) => ({
      path: `/api/v1/projects/${await ownedProject(api, owner)}/settings`,
      body: { egress: false, limits: { memory_mb: 256 } },
    }),
    expect: ownerOnly(200),
  },
  {
    name: 'PATCH /projects/:name/settings (session)',
    method: 'PATCH',
    via: 'cookie',
    prepare: async (api, owner) => ({
      path: `/api/v1/projects/${await ownedProject(api, owner)}/settings`,
      body: { builder: 'node' },
    }),
    expect: ownerOnly(200),
  },
];

describe.each(DIALECTS)('cross-tenant matrix of settings routes on %s', (dialect) => {
  let api: TestApi;
  let git: GitContractServer;
  let actors: Actors;
  beforeAll(async () => {
    api = await startTestApi(dialect);
    git = await startGitContractServer({
      address: `unix:${api.database.dataDir}/run/git.sock`,
      secret: api.internalSecret,
    });
    actors = await makeActors(api);
  });
  afterAll(async () => {
    await api?.stop();
    await git?.stop();
  });
  runMatrix(SETTINGS_ROUTES, () => ({ api, actors }));
});
