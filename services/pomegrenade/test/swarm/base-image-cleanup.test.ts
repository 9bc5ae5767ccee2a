// Deleting a base image builder's directory (runtime/swarm/base-image.ts): what a killed
// debootstrap left mounted inside the rootfs is unmounted first, deepest first, so the recursive
// delete never walks into /proc, /sys, /dev or a bind mount of the host.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '@paastech/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { mountPoints } from '../../src/isolation/disk-quota.js';
import { mountsUnder, removeTree } from '../../src/runtime/swarm/base-image.js';

/** A mountinfo line mounting `point` (as the kernel writes it: escaped). */
const line = (id: number, point: string) => `${id} 1 0:${id} / ${point} rw,nosuid - tmpfs tmpfs rw`;

describe('mountsUnder', () => {
  const root = '/var/cache/paastech/base-1.lock/rootfs';
  it.each([
    ['nothing mounted there', [line(1, '/'), line(2, '/proc')], []],
    [
      'a killed debootstrap: proc, sys, dev and dev/pts; deepest first',
      [
        line(1, '/'),
        line(2, `${root}/proc`),
        line(3, `${root}/sys`),
        line(4, `${root}/dev`),
        line(5, `${root}/dev/pts`),
      ],
      [`${root}/dev/pts`, `${root}/dev`, `${root}/sys`, `${root}/proc`],
    ],
    ['the rootfs itself is a mount point', [line(2, root), line(3, `${root}/proc`)], [`${root}/proc`, root]],
    [
      'two mounts stacked on one point: the later first',
      [line(2, `${root}/dev`), line(9, `${root}/dev`)],
      [`${root}/dev`, `${root}/dev`],
    ],
    ['a space, escaped \\040', [line(2, `${root}/my\\040dir`)], [`${root}/my dir`]],
    [
      'a tab, newline and backslash, escaped',
      [line(2, `${root}/a\\011b\\012c\\134d`)],
      [`${root}/a\tb\nc\\d`],
    ],
    ['a sibling with the same prefix is not under it', [line(2, `${root}2/proc`), line(3, `${root}-x`)], []],
    ['a sibling whose escaped name starts with the prefix', [line(2, `${root}\\040/proc`)], []],
    ['the parent is not under it', [line(2, path.dirname(root))], []],
    ['short and empty lines are skipped', ['', '12 1 0:1', line(2, `${root}/sys`), ''], [`${root}/sys`]],
  ])('%s', (_what, lines, expected) => {
    expect(mountsUnder(lines.join('\n'), root)).toEqual(expected);
  });

  it('a trailing slash in the directory changes nothing', () => {
    expect(mountsUnder(line(2, `${root}/proc`), `${root}/`)).toEqual([`${root}/proc`]);
  });
});

describe.skipIf(process.getuid?.() !== 0)('removeTree (root, real mounts)', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pbi-'));
  afterAll(async () => {
    for (const m of mountPoints()
      .filter((x) => x.startsWith(`${scratch}/`))
      .reverse())
      await run('umount', ['-l', '--', m]).catch(() => {});
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('unmounts tmpfs and bind mounts inside the rootfs, then deletes it; the host side is untouched', async () => {
    const lock = path.join(scratch, 'base-x.lock');
    const rootfs = path.join(lock, 'rootfs');
    const host = path.join(scratch, 'host');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'precious'), 'keep me');
    for (const d of ['proc', 'dev', 'my dir', 'host'])
      fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(rootfs, 'dev')]);
    fs.mkdirSync(path.join(rootfs, 'dev', 'pts'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(rootfs, 'dev', 'pts')]);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(rootfs, 'my dir')]);
    // The host's directory seen inside the rootfs (as /proc or /sys would be).
    await run('mount', ['--bind', host, path.join(rootfs, 'host')]);
    const real = fs.realpathSync(lock);
    expect(mountPoints().filter((m) => m.startsWith(`${real}/`))).toHaveLength(4);

    await removeTree(lock);
    expect(fs.existsSync(lock)).toBe(false);
    expect(mountPoints().filter((m) => m.startsWith(`${real}/`))).toEqual([]);
    expect(fs.readFileSync(path.join(host, 'precious'), 'utf8')).toBe('keep me');
  });

  it('a missing directory is nothing to do', async () => {
    await expect(removeTree(path.join(scratch, 'absent'))).resolves.toBeUndefined();
  });
});
