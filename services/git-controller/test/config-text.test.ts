// The pinned config is written as text at creation: git must read back exactly what was meant,
// whatever the data dir's path holds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configText, pinnedConfig } from '../src/repositories.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-cfgtext-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What `git config --get` reads back for `key` from `text` (with git's own [core] first). */
function readBack(text: string, key: string): string {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, `[core]\n\trepositoryformatversion = 0\n\tbare = true\n${text}`);
  return execFileSync('git', ['config', '--file', file, '--get', key], { encoding: 'utf8' }).replace(
    /\n$/,
    '',
  );
}

describe('configText', () => {
  it.each([
    '/srv/paastech/git/hooks',
    '/a dir/with spaces',
    '/semi;colon#hash',
    '/a "quoted" dir',
    '/back\\slash\\',
    '/tab\there',
    '/ünïcödé/✓',
    ' leading and trailing ',
  ])('git reads core.hooksPath %j back exactly', (hooks) => {
    const text = configText(pinnedConfig(hooks));
    expect(readBack(text, 'core.hooksPath')).toBe(hooks);
    for (const [key, value] of pinnedConfig(hooks)) expect(readBack(text, key)).toBe(value);
  });

  it.each(['/a\nb', '/a\rb', '/a\0b'])('refuses a value git cannot hold (%j)', (hooks) => {
    expect(() => configText(pinnedConfig(hooks))).toThrow(
      'git config core.hooksPath: a value cannot hold a line break or NUL',
    );
  });
});
