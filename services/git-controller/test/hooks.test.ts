// The pre-receive hook speaks the same protocol whichever interpreter runs it (Perl when present,
// Node otherwise): the request it sends, the lines it prints, its exit code, and what it does when
// the controller is not there or goes away mid-push.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { preReceiveScript } from '../src/hooks.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-hook-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const UPDATES = `${A} ${B} refs/heads/main\n`;

/** Writes the hook for `interpreter` (the script stays CommonJS for Node) and returns its path. */
function writeHook(interpreter: 'perl' | 'node', socket: string): string {
  const dir = fs.mkdtempSync(path.join(root, `${interpreter}-`));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "commonjs" }\n');
  const file = path.join(dir, 'pre-receive');
  const script = preReceiveScript(socket, interpreter === 'perl' ? '/usr/bin/perl' : null);
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

/** Serves one hook connection with `answer` (given the parsed request); resolves with the request. */
function serveOnce(socket: string, answer: (sock: net.Socket) => void): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const server = net.createServer((sock) => {
      let buffer = '';
      sock.setEncoding('utf8');
      sock.on('data', (d) => {
        buffer += d;
        const nl = buffer.indexOf('\n');
        if (nl < 0) return;
        resolve(JSON.parse(buffer.slice(0, nl)));
        answer(sock);
        server.close();
      });
    });
    server.listen(socket);
  });
}

/** Runs the hook as git does (updates on stdin, push options in the environment). */
function runHook(file: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PAASTECH_PUSH_ID: 'push-1',
        GIT_OBJECT_DIRECTORY: '/q/objects',
        GIT_ALTERNATE_OBJECT_DIRECTORIES: '/r/objects',
        GIT_PUSH_OPTION_COUNT: '3',
        GIT_PUSH_OPTION_0: 'skip-deploy',
        GIT_PUSH_OPTION_1: 'note=héllo',
        GIT_PUSH_OPTION_2: 'q="a\\b"\tc',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
    });
    child.stdin.end(UPDATES);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe.each(['perl', 'node'] as const)('pre-receive hook run by %s', (interpreter) => {
  it('sends the push, prints each line (UTF-8 intact) and exits with the code it is given', async () => {
    const socket = path.join(root, `${interpreter}-ok.sock`);
    const request = serveOnce(socket, (sock) => {
      sock.write(`${JSON.stringify({ line: '-----> déployé ✓' })}\n${JSON.stringify({ line: 'two' })}\n`);
      // Every escape JSON.stringify writes comes back as the character it stands for.
      sock.write(`${JSON.stringify({ line: 'say "hi" \\ tab\tbell\u0007 ok' })}\n`);
      sock.end(`${JSON.stringify({ exit: 1 })}\n`);
    });
    const run = await runHook(writeHook(interpreter, socket));
    expect(await request).toEqual({
      pushId: 'push-1',
      updates: UPDATES,
      objectDirectory: '/q/objects',
      alternateObjectDirectories: '/r/objects',
      pushOptions: ['skip-deploy', 'note=héllo', 'q="a\\b"\tc'],
    });
    expect(run).toEqual({ code: 1, stdout: '-----> déployé ✓\ntwo\nsay "hi" \\ tab\tbell\u0007 ok\n' });
  });

  it('exits 0 when the controller accepts', async () => {
    const socket = path.join(root, `${interpreter}-accept.sock`);
    void serveOnce(socket, (sock) => sock.end(`${JSON.stringify({ exit: 0 })}\n`));
    expect(await runHook(writeHook(interpreter, socket))).toEqual({ code: 0, stdout: '' });
  });

  it.each([
    ['nobody listens on the socket', false],
    ['the controller hangs up without an exit code', true],
  ])('rejects the push when %s', async (_case, listen) => {
    const socket = path.join(root, `${interpreter}-gone-${listen}.sock`);
    if (listen) void serveOnce(socket, (sock) => sock.end(`${JSON.stringify({ line: 'half' })}\n`));
    const run = await runHook(writeHook(interpreter, socket));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/!\s+push rejected: the git controller went away\n$/);
  });
});
