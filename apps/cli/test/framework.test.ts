import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseApiUrl, parseCommandLine, runCli } from '../src/cli.js';
import { defineCommand } from '../src/command.js';
import type { CliEnvironment } from '../src/config.js';
import { Output } from '../src/output.js';
import { commandNames } from '../src/registry.js';
import { loadSettings, saveSettings } from '../src/settings.js';

const command = defineCommand({
  description: 'test command',
  args: [
    { name: 'NAME', description: 'a name', required: true },
    { name: 'REST', description: 'more', variadic: true },
  ],
  flags: {
    confirm: { type: 'string', description: 'confirm' },
    force: { type: 'boolean', short: 'f', description: 'f' },
  },
  json: true,
  requireProject: true,
  async run() {},
});

describe('command line parsing', () => {
  it('parses positionals, variadics, flags, -p and --json', () => {
    const p = parseCommandLine('x', command, ['n', 'a', 'b', '--confirm', 'n', '-f', '-p', 'app', '--json']);
    expect(p.args).toEqual({ NAME: 'n' });
    expect(p.rest).toEqual(['a', 'b']);
    expect(p.flags).toMatchObject({ confirm: 'n', force: true, project: 'app', json: true });
  });

  it('treats everything after -- as positionals', () => {
    expect(parseCommandLine('x', command, ['--', '--json', '-f']).args).toEqual({ NAME: '--json' });
  });

  it.each([
    [[], 'x: missing argument NAME'],
    [['n', '--nope'], 'x: unknown flag "--nope"'],
    [['n', '--confirm'], 'x: flag "--confirm" needs a value'],
    [['n', '--force=yes'], 'x: flag "--force" takes no value'],
    [['n', '-z'], 'x: unknown flag "-z"'],
  ])('%j is a usage error: %s', (argv, message) => {
    expect(() => parseCommandLine('x', command, argv)).toThrow(message);
  });

  it('refuses extra arguments when none is variadic', () => {
    const fixed = defineCommand({
      description: 'd',
      args: [{ name: 'A', description: 'a' }],
      async run() {},
    });
    expect(() => parseCommandLine('y', fixed, ['1', '2'])).toThrow('y: unexpected argument "2"');
  });

  it.each([
    ['http://127.0.0.1:3000/', 'http://127.0.0.1:3000'],
    ['https://paas.example.com/base/', 'https://paas.example.com/base'],
  ])('normalises API URL %s', (raw, url) => {
    expect(normaliseApiUrl(raw)).toBe(url);
  });

  it.each(['ftp://x', 'not a url', 'http://user:pw@h/', 'file:///etc/passwd', 'javascript:alert(1)'])(
    'refuses API URL %s',
    (raw) => {
      expect(() => normaliseApiUrl(raw)).toThrow(`API URL "${raw}"`);
    },
  );
});

describe('commands and the config file', () => {
  it('names commands after their file path', () => {
    const names = commandNames();
    expect(names).toContain('git:credential');
    expect(names).toContain('auth:token');
    expect(names).toContain('logout');
    expect(names.every((n) => /^[a-z]+(:[a-z]+)?$/.test(n))).toBe(true);
  });

  it('writes the config file 0600 in a 0700 directory and reads it back', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pt-cli-')), 'paastech');
    saveSettings(dir, { apiUrl: 'http://h', logins: { 'http://h': { token: 'pt_x' } } });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(loadSettings(dir).logins?.['http://h']?.token).toBe('pt_x');
    fs.writeFileSync(path.join(dir, 'config.json'), '{oops');
    expect(() => loadSettings(dir)).toThrow(/is not valid JSON/);
  });

  it('runs in-process: usage errors exit 2, help exits 0', async () => {
    const env: CliEnvironment = {
      configDir: '/nonexistent',
      home: '/nonexistent',
      noColor: true,
      hasDisplay: false,
      debug: false,
    };
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      readStdin: async () => '',
      env,
      cwd: os.tmpdir(),
    };
    expect(await runCli(['loguot'], io)).toBe(2);
    expect(err).toBe(
      'error: unknown command "loguot"\nhint: did you mean "paastech logout"? (paastech --help lists every command)\n',
    );
    expect(await runCli(['--help'], io)).toBe(0);
    expect(out).toContain('2  usage error');
  });
});

/** Removes ANSI colour codes (built from the ESC code point: a regex literal may not hold it). */
const stripAnsi = (text: string) => text.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g'), '');

describe('output', () => {
  const stream = (isTTY: boolean) => {
    const s = { text: '', isTTY, write: (t: string) => (s.text += t) };
    return s;
  };

  it.each([
    [true, false, true],
    [true, true, false],
    [false, false, false],
  ])('stdout TTY %s, NO_COLOR %s → colours %s', (tty, noColor, coloured) => {
    const out = stream(tty);
    const err = stream(tty);
    const o = new Output(out, err, { noColor });
    o.line(o.style('bold', 'name'));
    o.error('boom', 'try again');
    expect(out.text.includes('\u001b[')).toBe(coloured);
    expect(err.text.includes('\u001b[')).toBe(coloured);
    expect(stripAnsi(err.text)).toBe('error: boom\nhint: try again\n');
  });

  it('spins only on a terminal, and prints plain progress lines otherwise', async () => {
    const plain = stream(false);
    const s = new Output(stream(false), plain, { noColor: false }).spinner('waiting');
    s.update('still waiting');
    s.stop('done');
    expect(plain.text).toBe('waiting…\nstill waiting…\ndone\n');
    const tty = stream(true);
    const t = new Output(stream(true), tty, { noColor: false }).spinner('waiting');
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.stop('done');
    expect(tty.text.startsWith('\r\u001b[2K')).toBe(true);
    expect(tty.text).toContain('waiting');
    expect(tty.text.endsWith('\r\u001b[2Kdone\n')).toBe(true);
  });

  it('lists the topics when run without arguments', async () => {
    const out = stream(false);
    const env: CliEnvironment = {
      configDir: '/nonexistent',
      home: '/nonexistent',
      noColor: true,
      hasDisplay: false,
      debug: false,
    };
    const code = await runCli([], {
      stdout: out,
      stderr: stream(false),
      readStdin: async () => '',
      env,
      cwd: os.tmpdir(),
    });
    expect(code).toBe(0);
    expect(out.text).toMatch(/^paastech: git push to deploy.*\n\nUsage: paastech COMMAND/);
    expect(out.text).toMatch(/\nTopics:\n {2}auth +sign up, log in/);
    expect(out.text).toContain('\n  config ');
  });
});
