#!/usr/bin/env node
// Runs every benchmark under bench/<name>/run.mjs in turn (npm run bench). Each prints its own
// comparison table; results are recorded by hand in docs/benchmarks.md with the date and machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const only = process.argv.slice(2);
const benches = fs
  .readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(here, d.name, 'run.mjs')))
  .map((d) => d.name)
  .filter((name) => only.length === 0 || only.includes(name));

if (benches.length === 0) {
  console.error(`bench: no benchmark found${only.length ? ` named ${only.join(', ')}` : ''}`);
  process.exit(1);
}
let failed = 0;
for (const name of benches) {
  console.log(`\n=== bench/${name} ===`);
  const r = spawnSync(process.execPath, [path.join(here, name, 'run.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
