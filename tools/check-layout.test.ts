// Table tests for tools/check-layout.mjs: each case builds a tiny fixture repository in a temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLayout, formatViolation, scanLayout } from './check-layout.mjs';

type Files = Record<string, string>;

// Workspaces every fixture tree starts from (package.json files giving the import names).
const WORKSPACES: Files = Object.fromEntries(
  [
    ['packages/kit', '@paastech/kit'],
    ['packages/proto', '@paastech/proto'],
    ['services/api', '@paastech/api'],
    ['services/router', '@paastech/router'],
    ['apps/paastechd', '@paastech/paastechd'],
    ['apps/cli', '@paastech/cli'],
    ['apps/web', '@paastech/web'],
    ['e2e', '@paastech/e2e'],
  ].map(([dir, name]) => [`${dir}/package.json`, JSON.stringify({ name, type: 'module' })]),
);

const tmpDirs: string[] = [];
afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// Writes the workspaces plus `files` into a fresh temp dir and returns `file:line: rule` per violation.
function check(files: Files): string[] {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'check-layout-'));
  tmpDirs.push(root);
  for (const [rel, text] of Object.entries({ ...WORKSPACES, ...files })) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return checkLayout(root).map(
    (v: { file: string; line: number; rule: string }) => `${v.file}:${v.line}: ${v.rule}`,
  );
}

const violating: Array<[string, Files, string[]]> = [
  [
    'service imports another service by name',
    {
      'services/api/src/a.ts': "import { x } from '@paastech/kit';\nimport { y } from '@paastech/router';\n",
    },
    ['services/api/src/a.ts:2: service-imports-service'],
  ],
  [
    'service imports a subpath of another service',
    { 'services/api/src/a.ts': "export { y } from '@paastech/router/src/y.js';\n" },
    ['services/api/src/a.ts:1: service-imports-service'],
  ],
  [
    'service imports another service by relative path',
    { 'services/api/src/deep/a.ts': "import '../../../router/src/index.js';\n" },
    ['services/api/src/deep/a.ts:1: service-imports-service'],
  ],
  [
    'multiline import reports the specifier line',
    { 'services/api/src/a.ts': "import {\n  a,\n  b,\n} from\n  '@paastech/router';\n" },
    ['services/api/src/a.ts:5: service-imports-service'],
  ],
  [
    'dynamic import and require of another service',
    {
      'services/router/src/a.js':
        "const m = await import('@paastech/api');\nconst n = require(\n  '../../api/src/x.js',\n);\n",
    },
    [
      'services/router/src/a.js:1: service-imports-service',
      'services/router/src/a.js:3: service-imports-service',
    ],
  ],
  [
    'service imports an app',
    { 'services/api/src/a.ts': "import { main } from '@paastech/paastechd';\n" },
    ['services/api/src/a.ts:1: imports-app'],
  ],
  [
    'e2e test imports app code by relative path',
    { 'e2e/tests/a.test.ts': "\nimport { main } from '../../apps/paastechd/src/main.js';\n" },
    ['e2e/tests/a.test.ts:2: imports-app'],
  ],
  [
    'an app imports another app',
    { 'apps/cli/src/a.ts': "import { main } from '@paastech/paastechd';\n" },
    ['apps/cli/src/a.ts:1: imports-app'],
  ],
  [
    'package imports a service',
    { 'packages/kit/src/a.ts': "import type { Api } from '@paastech/api';\n" },
    ['packages/kit/src/a.ts:1: package-imports-service'],
  ],
  [
    'package imports an app by relative path',
    { 'packages/kit/src/a.ts': "import '../../../apps/paastechd/src/main.js';\n" },
    ['packages/kit/src/a.ts:1: package-imports-service'],
  ],
  [
    'cli imports proto',
    { 'apps/cli/src/a.ts': "import { ApiClient } from '@paastech/proto';\n" },
    ['apps/cli/src/a.ts:1: client-imports-internal'],
  ],
  [
    'cli imports gRPC and proto by path',
    {
      'apps/cli/src/a.ts':
        "import * as grpc from '@grpc/grpc-js';\nimport { load } from '@grpc/proto-loader';\nimport '../../../packages/proto/src/index.js';\n",
    },
    [
      'apps/cli/src/a.ts:1: client-imports-internal',
      'apps/cli/src/a.ts:2: client-imports-internal',
      'apps/cli/src/a.ts:3: client-imports-internal',
    ],
  ],
  [
    'web imports service code',
    {
      'apps/web/src/App.tsx':
        "import { Dto } from '@paastech/api';\nexport const App = () => <div>hi</div>;\n",
    },
    ['apps/web/src/App.tsx:1: client-imports-internal'],
  ],
  [
    'process.env outside config.ts',
    { 'services/api/src/a.ts': 'const a = 1;\nconst port = process.env.PORT;\n' },
    ['services/api/src/a.ts:2: env-outside-config'],
  ],
  [
    'process[\'env\'] and process["env"]',
    { 'packages/kit/src/a.ts': 'const a = process[\'env\'];\nconst b = process["env"].HOME;\n' },
    ['packages/kit/src/a.ts:1: env-outside-config', 'packages/kit/src/a.ts:2: env-outside-config'],
  ],
  [
    'destructured env from process',
    { 'apps/paastechd/src/a.ts': 'const x = 1;\nconst { env, argv } = process;\n' },
    ['apps/paastechd/src/a.ts:2: env-outside-config'],
  ],
  [
    "env imported from 'node:process' and 'process'",
    {
      'services/api/src/a.ts':
        "import { env } from 'node:process';\nimport { argv, env as e } from 'process';\n",
    },
    ['services/api/src/a.ts:1: env-outside-config', 'services/api/src/a.ts:2: env-outside-config'],
  ],
  [
    'process.env inside a template substitution',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: fixture source text, not a template
    { 'services/api/src/a.ts': 'const s = `home: ${\n  process.env.HOME\n}`;\n' },
    ['services/api/src/a.ts:2: env-outside-config'],
  ],
  [
    'process.env after a regex literal containing quotes',
    { 'services/api/src/a.ts': 'const re = /["\'`]/g;\nconst p = process.env.PORT;\n' },
    ['services/api/src/a.ts:2: env-outside-config'],
  ],
  [
    'process.env after a JSX closing tag (a `/` that is not a regex)',
    { 'apps/web/src/a.tsx': 'const a = <b>x</b>; const e = process.env.X;\n' },
    ['apps/web/src/a.tsx:1: env-outside-config'],
  ],
  [
    'exec from child_process',
    {
      'services/api/src/a.ts':
        // biome-ignore lint/suspicious/noTemplateCurlyInString: fixture source text, not a template
        "import { exec, spawn } from 'node:child_process';\n\nexec(`git clone ${url}`);\nspawn('git', ['clone', url]);\n",
    },
    ['services/api/src/a.ts:3: shell-string'],
  ],
  [
    'execSync via alias, namespace, promisify and require',
    {
      'packages/kit/src/a.ts': [
        "import { execSync as run } from 'child_process';",
        "import * as cp from 'node:child_process';",
        "import { promisify } from 'node:util';",
        "const { exec } = require('child_process');",
        "run('ls');",
        "cp.execSync('ls');",
        'const execAsync = promisify(exec);',
        '',
      ].join('\n'),
    },
    [
      'packages/kit/src/a.ts:5: shell-string',
      'packages/kit/src/a.ts:6: shell-string',
      'packages/kit/src/a.ts:7: shell-string',
    ],
  ],
  [
    'exec chained on require',
    { 'services/router/src/a.cjs': "\nrequire('node:child_process').exec('ls');\n" },
    ['services/router/src/a.cjs:2: shell-string'],
  ],
  [
    'shell: true option',
    { 'apps/paastechd/src/a.ts': "spawn('ls', ['-l'], {\n  cwd: dir,\n  shell: true,\n});\n" },
    ['apps/paastechd/src/a.ts:3: shell-string'],
  ],
  [
    'test files are exempt from env only, not from import rules',
    { 'services/api/test/a.test.ts': "const h = process.env.HOME;\nimport '@paastech/router';\n" },
    ['services/api/test/a.test.ts:2: service-imports-service'],
  ],
];

const clean: Array<[string, Files]> = [
  ['clean tree', { 'packages/kit/src/index.ts': 'export const x = 1;\n' }],
  [
    'a comment mentioning process.env',
    { 'services/api/src/a.ts': '// process.env.PORT\n/* process.env\n */\n' },
  ],
  [
    'strings containing "process.env"',
    {
      'services/api/src/a.ts':
        // biome-ignore lint/suspicious/noTemplateCurlyInString: fixture source text, not a template
        'const a = "process.env";\nconst b = \'use process.env\';\nconst c = `process.env ${a}`;\n',
    },
  ],
  [
    'config.ts reading process.env',
    { 'services/api/src/config.ts': 'export const port = process.env.PORT;\n' },
  ],
  [
    'config.mts and config.js',
    { 'packages/kit/src/config.mts': 'process.env.A;\n', 'apps/cli/config.js': 'process.env.B;\n' },
  ],
  [
    'a service importing @paastech/kit and @paastech/proto',
    {
      'services/api/src/a.ts':
        "import { log } from '@paastech/kit';\nimport { Api } from '@paastech/proto';\n",
    },
  ],
  [
    'an e2e test importing a service and reading env',
    {
      'e2e/tests/deploy.test.ts': "import { start } from '@paastech/api';\nconst env = { ...process.env };\n",
    },
  ],
  ['bench reading env', { 'bench/run.mjs': "const n = process.env.N ?? '1';\n" }],
  ['a service importing itself', { 'services/api/src/a.ts': "import '@paastech/api';\nimport './b.js';\n" }],
  [
    'an app importing itself by relative path',
    { 'apps/paastechd/src/a.ts': "import { b } from './b.js';\n" },
  ],
  ['paastechd importing services', { 'apps/paastechd/src/a.ts': "import { start } from '@paastech/api';\n" }],
  [
    'RegExp#exec, execFile and spawn',
    {
      'services/api/src/a.ts':
        "import { execFile, spawn } from 'node:child_process';\nconst m = /a/.exec(s);\nexecFile('git', ['status']);\nspawn('ls', [], { shell: false });\n",
    },
  ],
  [
    'skipped directories',
    {
      'services/api/node_modules/x/index.js': "import '@paastech/router';\n",
      'services/api/dist/a.js': "import '@paastech/router';\n",
      'packages/proto/src/gen/api.ts': "const x = process.env.X;\nimport '@paastech/api';\n",
      'e2e/fixtures/apps/node-hello/index.js': "require('child_process').exec('ls');\nprocess.env.PORT;\n",
    },
  ],
  [
    'import-like text in strings and comments',
    { 'services/api/src/a.ts': "// import '@paastech/router'\nconst s = \"from '@paastech/router'\";\n" },
  ],
];

describe('checkLayout', () => {
  it.each(violating)('flags: %s', (_name, files, expected) => {
    expect(check(files)).toEqual(expected);
  });

  it.each(clean)('does not flag: %s', (_name, files) => {
    expect(check(files)).toEqual([]);
  });

  it('formats violations as `path:line: rule — detail`', () => {
    const line = formatViolation({
      file: 'services/api/src/a.ts',
      line: 2,
      rule: 'imports-app',
      detail: 'x',
    });
    expect(line).toBe('services/api/src/a.ts:2: imports-app — x');
  });

  it('passes on the real repository', () => {
    const { files, violations } = scanLayout(path.resolve(import.meta.dirname, '..'));
    expect(violations.map(formatViolation)).toEqual([]);
    expect(files).toBeGreaterThan(0);
  });
});
