// Builds of several projects at once on one host disk (DiskQuotas.admitBuild), as root with loop
// devices, on a small tmpfs the test mounts as the host: a build is admitted only when the host has
// free its own need plus what the builds already running may still write into their sparse images;
// what a running build has written back is no longer counted against the others; a build's claim
// is released whatever its end (runBuild failing or throwing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, run } from '@paastech/kit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBuilders } from '../src/build/builders.js';
import { runBuild } from '../src/domain/build-runner.js';
import { DEFAULT_LIMITS } from '../src/domain/model.js';
import {
  DiskQuotas,
  type HostAdmission,
  hostFullMessage,
  loopUnavailableReason,
  mountPoints,
} from '../src/isolation/disk-quota.js';
import { LocalRuntime, sandboxUnavailableReason } from '../src/runtime/local-runtime.js';

const MiB = 1024 * 1024;
const LIMIT = 48 * MiB;
const canLoop = loopUnavailableReason() === null;
const canBuild = canLoop && sandboxUnavailableReason() === null;
const logger = createLogger('test', { level: 'silent', format: 'json' });

let host: string;
let projects: string;
let disk: DiskQuotas;
let filler: string;

/** Free bytes of the test's host file system. */
function hostFree(): number {
  const st = fs.statfsSync(host);
  return st.bavail * st.bsize;
}

/** Grows or shrinks the filler file until the host has `bytes` free (to the page). */
function setHostFree(bytes: number): void {
  const size = fs.statSync(filler).size;
  const target = size + Math.floor((hostFree() - bytes) / 4096) * 4096;
  if (target < 0) throw new Error(`the test host cannot have ${bytes} bytes free`);
  if (target <= size) {
    fs.truncateSync(filler, target);
    return;
  }
  const fd = fs.openSync(filler, 'a');
  try {
    for (let left = target - size; left > 0; left -= Math.min(left, MiB))
      fs.writeSync(fd, Buffer.alloc(Math.min(left, MiB), 1));
  } finally {
    fs.closeSync(fd);
  }
}

/** A project's disk made, written back to the host, and its need (a squeezed host reports it). */
async function project(id: string): Promise<number> {
  await disk.ensure(id, LIMIT);
  await run('sync', ['-f', '--', disk.paths(id).mount]);
  // Squeezed below any need, yet with room for the images' own metadata writes.
  setHostFree(24 * MiB);
  const need = disk.hostShortfall(id)?.neededBytes;
  if (need === undefined) throw new Error(`project ${id}: no shortfall on a squeezed host`);
  return need;
}

/** Writes `bytes` into the project's builds and waits until they reached the host. */
function write(id: string, bytes: number): void {
  const fd = fs.openSync(path.join(projects, id, 'builds', 'blob'), 'w');
  try {
    for (let left = bytes; left > 0; left -= MiB) fs.writeSync(fd, Buffer.alloc(MiB, 7));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A build of commit a…a of the project, its artifacts in its builds unless `artifactDir`. */
function buildJob(
  id: string,
  artifactDir = path.join(projects, id, 'builds', 'v1'),
): Parameters<typeof runBuild>[0] {
  return {
    projectId: id,
    number: 1,
    commitSha: 'a'.repeat(40),
    builder: '',
    buildpackUrl: '',
    buildpacksDir: '/nonexistent',
    timeoutSeconds: 60,
    configVars: {},
    limits: { ...DEFAULT_LIMITS, diskBytes: LIMIT },
    uid: 250_200,
    artifactDir,
    cacheDir: path.join(projects, id, 'cache'),
    signal: new AbortController().signal,
    step: () => {},
    line: () => {},
  };
}

/** What runBuild needs: a bwrap sandbox, the test's disks, and `fetch` as the source fetch. */
function buildDeps(fetch: () => Promise<void>): Parameters<typeof runBuild>[1] {
  return {
    runtime: new LocalRuntime({ sandbox: 'bwrap', stateDir: host, logger, network: null }),
    builders: defaultBuilders(),
    source: { fetch },
    disk,
  };
}

beforeAll(async () => {
  if (!canLoop) return;
  host = fs.mkdtempSync(path.join(os.tmpdir(), 'pdh-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=512m,mode=0700', 'tmpfs', host]);
  projects = path.join(host, 'projects');
  filler = path.join(host, 'filler');
  fs.writeFileSync(filler, '');
  disk = await DiskQuotas.create({ projectsDir: projects, maxBytes: 64 * MiB, logger });
});

afterAll(async () => {
  if (!host) return;
  await disk?.detachAll();
  for (const m of mountPoints()
    .filter((x) => x.startsWith(`${host}/`))
    .reverse())
    await run('umount', ['-l', '--', m]).catch(() => {});
  await run('umount', ['-l', '--', host]).catch(() => {});
  fs.rmSync(host, { recursive: true, force: true });
});

describe('the refusal message', () => {
  it.each([
    [{ freeBytes: 40 * MiB, neededBytes: 64 * MiB, others: 0, othersBytes: 0 }, null],
    [
      { freeBytes: 100 * MiB, neededBytes: 64 * MiB, others: 1, othersBytes: 64 * MiB },
      ', and 1 other build running may still write up to 64 MiB',
    ],
    [
      { freeBytes: 100 * MiB, neededBytes: 64 * MiB, others: 3, othersBytes: 150 * MiB + 7 },
      ', and 3 other builds running may still write up to 150 MiB',
    ],
  ])('%j', (shortfall, others) => {
    const message = hostFullMessage(shortfall);
    expect(message).toMatch(
      /^the platform's disk is too full to build: \d+ MiB free, and this build may write up to 64 MiB \(what the project's disk limit still allows\)/,
    );
    if (others) {
      expect(message).toContain(`allows)${others}; free space on the host`);
      expect(message).toMatch(/or push again once the other builds ended$/);
    } else {
      expect(message).not.toMatch(/other build/);
    }
  });
});

// Each row: projects a<i> and b<i>; the host is left with b's need + a's claim + `margin` free; a
// is admitted, then does `a`; then b asks. `othersMiB`: a's claim as b's refusal reports it, in
// MiB less than a's claim at admission (what a wrote back no longer counts).
describe.skipIf(!canLoop)(
  'admission of a build while another project builds (loop images, tmpfs host)',
  () => {
    it.each([
      { name: 'a holds its claim: b refused', margin: -8, a: 'hold', b: 'refused', written: 0 },
      { name: 'a released its claim: b admitted', margin: -8, a: 'release', b: 'admitted', written: 0 },
      {
        name: 'a wrote 32 MiB of its claim: b still refused, a claims 32 MiB less',
        margin: -8,
        a: 'write',
        b: 'refused',
        written: 32,
      },
      {
        name: 'a wrote 32 MiB of its claim: b admitted (not counted twice)',
        margin: 8,
        a: 'write',
        b: 'admitted',
        written: 32,
      },
      {
        name: 'a admitted twice at once (two builds of a): b counts both',
        margin: 40,
        a: 'twice',
        b: 'refused',
        written: 0,
      },
    ] as const)(
      '$name',
      async ({ margin, a, b, written }) => {
        const row = `${a}-${b}-${margin}`.replace(/[^a-z0-9-]/g, '');
        const [ida, idb] = [`a-${row}`, `b-${row}`];
        const needA = await project(ida);
        const needB = await project(idb);
        // Checked alone (the check before this change), b would be admitted in every row.
        setHostFree(needB + needA + margin * MiB);
        expect(disk.hostShortfall(idb)).toBeUndefined();
        const held: HostAdmission[] = [disk.admitBuild(ida)];
        try {
          expect(held[0]!.shortfall).toBeUndefined();
          if (a === 'release') held.shift()!.release!();
          if (a === 'write') write(ida, written * MiB);
          if (a === 'twice') held.push(disk.admitBuild(ida));
          expect(held.every((h) => h.shortfall === undefined)).toBe(true);
          const second = disk.admitBuild(idb);
          if (second.release) held.push(second);
          if (b === 'admitted') {
            expect(second.shortfall).toBeUndefined();
            return;
          }
          const short = second.shortfall!;
          expect(short).toBeDefined();
          expect(short.others).toBe(a === 'twice' ? 2 : 1);
          const expected = (a === 'twice' ? 2 : 1) * needA - written * MiB;
          expect(Math.abs(short.othersBytes - expected)).toBeLessThan(3 * MiB);
          expect(hostFullMessage(short)).toContain(
            `, and ${short.others} other build${short.others === 1 ? '' : 's'} running may still write up to ${Math.floor(short.othersBytes / MiB)} MiB;`,
          );
        } finally {
          for (const h of held) h.release?.();
          await disk.remove(ida);
          await disk.remove(idb);
        }
      },
      60_000,
    );

    it('builds of the same project do not count against each other', async () => {
      const need = await project('same');
      setHostFree(need + 8 * MiB);
      const first = disk.admitBuild('same');
      const second = disk.admitBuild('same');
      try {
        expect(first.shortfall).toBeUndefined();
        expect(second.shortfall).toBeUndefined();
        // Claims are per build: the first one's end leaves the second one's in place.
        first.release?.();
        await project('other');
        setHostFree(need + 8 * MiB);
        expect(disk.admitBuild('other').shortfall?.others).toBe(1);
        second.release?.();
        const other = disk.admitBuild('other');
        expect(other.shortfall).toBeUndefined();
        other.release?.();
      } finally {
        first.release?.();
        second.release?.();
        await disk.remove('same');
        await disk.remove('other');
      }
    }, 60_000);

    it('watch mode reserves nothing', async () => {
      const watch = await DiskQuotas.create({
        projectsDir: path.join(host, 'watch'),
        maxBytes: 64 * MiB,
        logger,
        mode: 'watch',
      });
      await watch.ensure('w', LIMIT);
      setHostFree(0);
      expect(watch.hostShortfall('w')).toBeUndefined();
      expect(watch.admitBuild('w').shortfall).toBeUndefined();
      setHostFree(256 * MiB);
    });
  },
);

// A real build of a (runBuild, bwrap sandbox) holds its claim while it runs and releases it
// however it ends.
describe.skipIf(!canBuild)('a running build holds its claim; its end releases it', () => {
  it.each([
    ['its source fetch fails', 'fetch', /cannot fetch commit a{12}: the git controller went away/],
    ['it throws (its build directory cannot be made)', 'throw', /ENOTDIR/],
  ] as const)(
    '%s',
    async (_name, how, failure) => {
      const [ida, idb] = [`run-${how}`, `next-${how}`];
      const needA = await project(ida);
      const needB = await project(idb);
      setHostFree(needB + needA - 8 * MiB);
      let fetching!: () => void;
      const fetched = new Promise<void>((resolve) => {
        fetching = resolve;
      });
      let fail!: (err: Error) => void;
      const failed = new Promise<never>((_, reject) => {
        fail = reject;
      });
      failed.catch(() => {});
      const blocker = path.join(host, `blocker-${how}`);
      fs.writeFileSync(blocker, '');
      const build = runBuild(
        buildJob(ida, how === 'throw' ? path.join(blocker, 'builds', 'v1') : undefined),
        buildDeps(async () => {
          fetching();
          await failed;
        }),
      );
      const ended = build.then(
        () => null,
        (err: Error & { failure?: { message: string } }) => err.failure?.message ?? err.message,
      );
      try {
        if (how === 'fetch') {
          // Fetching: the build was admitted and holds its claim (a build that ended first fails here).
          expect(await Promise.race([fetched.then(() => 'fetching'), ended])).toBe('fetching');
          const refused = disk.admitBuild(idb);
          expect(refused.shortfall?.others).toBe(1);
          expect(hostFullMessage(refused.shortfall!)).toMatch(/, and 1 other build running may still write/);
          fail(new Error('the git controller went away'));
        }
        expect(await ended).toMatch(failure);
        // Released once its writes are on the host (in the background).
        await vi.waitFor(() => expect(disk.claimsHeld).toBe(0), { timeout: 30_000 });
        const admitted = disk.admitBuild(idb);
        expect(admitted.shortfall).toBeUndefined();
        admitted.release?.();
      } finally {
        fail(new Error('test over'));
        await ended;
        await disk.remove(ida);
        await disk.remove(idb);
      }
    },
    60_000,
  );

  // The build's writes sit in the page cache of its image's file system until the kernel writes
  // them back (up to half a minute later): its claim covers them until they are on the host.
  it('what the build wrote is on the host before its claim is released', async () => {
    const id = 'unsynced';
    await project(id);
    setHostFree(256 * MiB);
    const before = hostFree();
    const build = runBuild(
      buildJob(id),
      buildDeps(async () => {
        // Written, never synced, then the build fails.
        fs.writeFileSync(path.join(projects, id, 'builds', 'blob'), Buffer.alloc(32 * MiB, 7));
        throw new Error('the git controller went away');
      }),
    );
    try {
      await expect(build).rejects.toThrow(/the git controller went away/);
      // The claim goes once the writes are on the host (a sync in the background).
      await vi.waitFor(() => expect(disk.claimsHeld).toBe(0), { timeout: 30_000 });
      const ended = hostFree();
      await run('sync', ['-f', '--', disk.paths(id).mount]);
      expect(before - ended).toBeGreaterThanOrEqual(32 * MiB);
      // Nothing of it was left to write back once the claim was gone.
      expect(ended - hostFree()).toBeLessThan(MiB);
    } finally {
      await disk.remove(id);
    }
  }, 60_000);

  // A build the host has room for alone, kept out only by another build's claim, waits for it
  // (saying so) rather than failing the push; at most its own timeout.
  it.each([
    [
      'the other build ends while it waits: it runs',
      'released',
      60,
      /cannot fetch commit a{12}: fetch reached/,
    ],
    [
      'the other build runs past its timeout: refused',
      'held',
      2,
      /too full to build: .* and 1 other build running/,
    ],
  ] as const)(
    '%s',
    async (_name, other, timeoutSeconds, failure) => {
      const [ida, idb] = [`holds-${other}`, `waits-${other}`];
      const needA = await project(ida);
      const needB = await project(idb);
      setHostFree(needB + needA - 8 * MiB);
      const held = disk.admitBuild(ida);
      expect(held.shortfall).toBeUndefined();
      const steps: string[] = [];
      let fetched = false;
      const ended = runBuild(
        { ...buildJob(idb), timeoutSeconds, step: (t) => steps.push(t) },
        buildDeps(async () => {
          fetched = true;
          throw new Error('fetch reached');
        }),
      ).then(
        () => '',
        (err: Error & { failure?: { message: string } }) => err.failure?.message ?? err.message,
      );
      try {
        await vi.waitFor(() =>
          expect(steps[0]).toMatch(/^Waiting for disk room: 1 other build may still write up to \d+ MiB/),
        );
        await new Promise((r) => setTimeout(r, 1200));
        expect(fetched).toBe(false);
        if (other === 'released') held.release?.();
        expect(await ended).toMatch(failure);
        expect(fetched).toBe(other === 'released');
      } finally {
        held.release?.();
        await ended;
        await vi.waitFor(() => expect(disk.claimsHeld).toBe(0), { timeout: 30_000 });
        await disk.remove(ida);
        await disk.remove(idb);
        setHostFree(256 * MiB);
      }
    },
    60_000,
  );
});
