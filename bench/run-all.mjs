#!/usr/bin/env node
// Runs the benchmarks of bench/ in turn (npm run bench). Each prints its own comparison table;
// results are recorded by hand in docs/benchmarks.md with the date and machine.
//
//   npm run bench                                   every benchmark below (the swarm one when
//                                                   Docker is installed; else reported "not run")
//   npm run bench -- --without-swarm                all but the swarm one (it takes minutes)
//   npm run bench -- router --rounds 3 git --runs 1 only those, each with the arguments after its name
//   npm run bench -- --list                         the names
//
// Arguments after a benchmark's name, up to the next name, are passed to its script. push-to-live
// runs full-stack.mjs itself after its own part, so full-stack is not run a second time in the full
// list (it can be named alone).
// The swarm benchmark starts its own one-node Docker Swarm (dockerd, docker-registry, debootstrap):
// without them it cannot run, and the full list reports it "not run" (not a failure).
// Every benchmark needs `npm run build` first (they import or start the built packages).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;

/** Every benchmark script, by name; `all: false` = left out of the full list. */
const BENCHES = [
  { name: 'api', script: 'api/run.mjs', all: true },
  { name: 'git', script: 'git/run.mjs', all: true },
  { name: 'push-to-live', script: 'push-to-live/run.mjs', all: true, note: 'then full-stack.mjs' },
  {
    name: 'push-to-live/full-stack',
    script: 'push-to-live/full-stack.mjs',
    all: false,
    note: 'run by push-to-live',
  },
  {
    name: 'push-to-live/swarm',
    script: 'push-to-live/swarm.mjs',
    all: true,
    note: 'needs Docker; --without-swarm leaves it out',
    needs: ['dockerd', 'docker-registry', 'debootstrap'],
    root: true,
  },
  { name: 'router', script: 'router/run.mjs', all: true },
  { name: 'router/instructions', script: 'router/instructions.mjs', all: true },
  { name: 'router/ring-lines', script: 'router/ring-lines.mjs', all: true },
];
/** Files under bench/ that are parts of a benchmark, not benchmarks (started by the ones above). */
const HELPERS = [
  'api/open-loop.mjs',
  'api/server.mjs',
  'router/router-proc.mjs',
  'router/setup.mjs',
  'run-all.mjs',
];

/** Every .mjs file under bench/ (relative paths), to catch a new script nobody listed. */
function scripts(dir = here, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (d.name === 'node_modules' || d.name.startsWith('.')) return [];
    if (d.isDirectory()) return scripts(path.join(dir, d.name), `${prefix}${d.name}/`);
    return d.name.endsWith('.mjs') ? [`${prefix}${d.name}`] : [];
  });
}

/** True when `command` is an executable file in a directory of PATH. */
function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const unlisted = scripts().filter((f) => !HELPERS.includes(f) && !BENCHES.some((b) => b.script === f));
// A script nobody listed is reported (not run): add it to BENCHES or HELPERS.
if (unlisted.length > 0)
  console.error(`bench: not in bench/run-all.mjs's list, not run: ${unlisted.join(', ')}`);

// Parse: [--without-swarm] [--list] [name [args…]]…
const byName = new Map(BENCHES.map((b) => [b.name, b]));
const chosen = [];
let withoutSwarm = false;
for (const arg of process.argv.slice(2)) {
  const bench = byName.get(arg);
  if (bench) chosen.push({ bench, args: [] });
  else if (chosen.length > 0) chosen.at(-1).args.push(arg);
  else if (arg === '--without-swarm') withoutSwarm = true;
  // The former opt-in flag: the swarm benchmark is in the full list now.
  else if (arg === '--with-swarm') withoutSwarm = false;
  else if (arg === '--list') {
    for (const b of BENCHES)
      console.log(`${b.name.padEnd(24)} bench/${b.script}${b.note ? `  (${b.note})` : ''}`);
    process.exit(0);
  } else {
    console.error(`bench: unknown benchmark "${arg}" (known: ${BENCHES.map((b) => b.name).join(', ')})`);
    process.exit(2);
  }
}
if (chosen.length === 0) {
  for (const bench of BENCHES) {
    if (bench.all && !(withoutSwarm && bench.name === 'push-to-live/swarm')) chosen.push({ bench, args: [] });
  }
}

const wasNamed = process.argv.slice(2).some((a) => byName.has(a));
const results = [];
for (const { bench, args } of chosen) {
  console.log(`\n=== bench/${bench.script}${args.length ? ` ${args.join(' ')}` : ''} ===`);
  const missing = (bench.needs ?? []).filter((c) => !onPath(c));
  if (bench.root && process.geteuid?.() !== 0) missing.push('root');
  if (missing.length > 0) {
    console.error(
      `bench: ${bench.name} needs ${missing.join(', ')} (bash scripts/setup-system.sh install --tests)`,
    );
    // Named, it was asked for: a failure. In the full list, a benchmark this machine cannot run.
    results.push({ name: bench.name, outcome: `not run (needs ${missing.join(', ')})`, named: wasNamed });
    continue;
  }
  const r = spawnSync(process.execPath, [path.join(here, bench.script), ...args], { stdio: 'inherit' });
  results.push({ name: bench.name, outcome: r.status === 0 ? 'ok' : `failed (${r.status ?? r.signal})` });
}
console.log('\n=== bench: summary ===');
for (const { name, outcome } of results) console.log(`${name.padEnd(24)} ${outcome}`);
process.exit(
  results.every((r) => r.outcome === 'ok' || (r.outcome.startsWith('not run') && !r.named)) ? 0 : 1,
);
