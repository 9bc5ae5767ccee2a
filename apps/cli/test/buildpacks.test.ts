// `paastech buildpacks`, `buildpacks:set` and `buildpacks:clear`: the built CLI against a real
// `paastechd all` (needs `npm run build`): show (auto-detect by default), set an installed name and an
// https git URL with a ref, the API's rule shown for hostile values (nothing stored), clear, and
// another Client's project is not found.
import { type RunningDaemon, startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliUser, cliUser } from './support.js';

describe('buildpacks commands against paastechd', () => {
  let daemon: RunningDaemon;
  let ada: CliUser;
  let bob: CliUser;

  /** `paastech buildpacks --json` of project `bp`. */
  async function stored(): Promise<unknown> {
    const res = await ada.run(['buildpacks', '--json', '-p', 'bp']);
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout).buildpack;
  }

  beforeAll(async () => {
    daemon = await startPaastechd({ role: 'all', timeoutMs: 60_000 });
    const url = daemon.endpoints.get('dashboard and API')!.replace(/\/$/, '');
    ada = cliUser(url);
    bob = cliUser(url);
    for (const [user, email] of [
      [ada, 'bp-ada@example.com'],
      [bob, 'bp-bob@example.com'],
    ] as const) {
      const signup = await user.run(['signup', '--email', email, '--password-stdin'], {
        input: 'correct horse battery staple 42\n',
      });
      expect(signup.code, signup.stderr).toBe(0);
    }
    expect((await ada.run(['projects:create', 'bp'])).code).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
  });

  it('shows auto-detect, sets a name and a git URL, refuses hostile values with the rule, clears', async () => {
    const shown = await ada.run(['buildpacks', '-p', 'bp']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe(
      'bp buildpack: none: the built-in builders detect how to build (auto-detect)\n',
    );
    expect(await stored()).toBeNull();

    const set = await ada.run(['buildpacks:set', 'custom-buildpack', '-p', 'bp']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(
      'bp buildpack set to custom-buildpack (installed on this platform); it builds the next deployment (git push to deploy)\n',
    );
    expect((await ada.run(['buildpacks', '-p', 'bp'])).stdout).toBe(
      'bp buildpack: custom-buildpack (installed on this platform)\n',
    );
    expect((await ada.run(['settings', '-p', 'bp'])).stdout).toMatch(/buildpack +custom-buildpack\n/);

    const git = 'https://git.example.com/team/bp.git#v2';
    const setGit = await ada.run(['buildpacks:set', git, '--json', '-p', 'bp']);
    expect(setGit.code, setGit.stderr).toBe(0);
    expect(JSON.parse(setGit.stdout)).toEqual({
      buildpack: git,
      applies: 'the next deployment (a change alone deploys nothing)',
    });

    for (const [value, rule] of [
      ['/etc', /paths on the server and scp-style git@ addresses are not accepted/],
      ['../../etc', /paths on the server/],
      ['file:///etc', /buildpack URL must use https:\/\//],
      ['https://user:pass@example.com/bp.git', /must not hold credentials/],
      ['https://example.com/bp.git#--upload-pack=x', /must be a branch or tag name/],
    ] as const) {
      const bad = await ada.run(['buildpacks:set', value, '-p', 'bp']);
      expect(bad.code, value).not.toBe(0);
      expect(bad.stderr, value).toMatch(rule);
      expect(await stored()).toBe(git);
    }

    const cleared = await ada.run(['buildpacks:clear', '-p', 'bp']);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(cleared.stdout).toBe('bp buildpack cleared: the next deployment auto-detects how to build\n');
    expect(await stored()).toBeNull();
  }, 60_000);

  it("another Client's project is not found, and nothing changes", async () => {
    await ada.run(['buildpacks:set', 'custom-buildpack', '-p', 'bp']);
    for (const args of [['buildpacks'], ['buildpacks:set', 'evil'], ['buildpacks:clear']]) {
      const res = await bob.run([...args, '-p', 'bp']);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr).toMatch(/not found/);
    }
    expect(await stored()).toBe('custom-buildpack');
  }, 60_000);

  it('buildpacks:set without a value is a usage error naming the argument', async () => {
    const res = await ada.run(['buildpacks:set', '-p', 'bp']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/BUILDPACK/);
  });
});
