#!/usr/bin/env node
// paastech: the PaaSTech command-line interface (see README.md for every command).
import { runCli } from './cli.js';
import { readEnvironment } from './config.js';
import { ask } from './prompt.js';

/** Reads all of stdin as text. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin,
  ...(process.stdin.isTTY ? { ask } : {}),
  env: readEnvironment(),
  cwd: process.cwd(),
});
