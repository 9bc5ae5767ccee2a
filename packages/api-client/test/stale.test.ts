// The committed client must match what the API serves now: regenerate into a temp dir and compare.
// Needs `npm run build` first (the script runs the built paastechd).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = path.resolve(import.meta.dirname, '..');
const STALE = 'api client is stale: run npm run gen -w @paastech/api-client';

/** Runs scripts/generate.mjs --out dir; rejects with its output when it fails. */
function generate(outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PACKAGE_DIR, 'scripts/generate.mjs'), '--out', outDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`generate.mjs exited ${code}\n${output}`)),
    );
  });
}

describe('generated API client', () => {
  it('matches the OpenAPI document the API serves', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pt-apiclient-'));
    try {
      await generate(out);
      for (const file of ['openapi.json', 'src/schema.ts']) {
        const fresh = fs.readFileSync(path.join(out, file), 'utf8');
        const committed = fs.readFileSync(path.join(PACKAGE_DIR, file), 'utf8');
        expect(committed === fresh, `${STALE} (${file} differs)`).toBe(true);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
