// `paastech settings` and `settings:set`: the KEY=VALUE parser (hostile input as a table), and the
// built CLI against a real `paastechd all` (needs `npm run build`): show, change, reset, and the
// API's rule shown for a value out of range.
import { type RunningDaemon, startPaastechd } from '@paastech/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { parseSettings } from '../src/project-settings.js';
import { type CliUser, cliUser } from './support.js';

describe('settings:set parsing', () => {
  it.each([
    [['memory_mb=512'], { limits: { memory_mb: 512 } }],
    [['limits.cpu_millicores=500', 'disk_mb=default'], { limits: { cpu_millicores: 500, disk_mb: null } }],
    [['max_processes='], { limits: { max_processes: null } }],
    [['egress=false'], { egress: false }],
    [['egress=ON'], { egress: true }],
    [['builder=python', 'health_check_path=/up?x=1'], { builder: 'python', health_check_path: '/up?x=1' }],
    [['health_check_path=default'], { health_check_path: null }],
    // Passed as typed: the API names the rule (a whole number in range, a known builder).
    [['memory_mb=1.5'], { limits: { memory_mb: '1.5' } }],
    [['builder=node; rm -rf /'], { builder: 'node; rm -rf /' }],
  ])('%j → %j', (args, body) => {
    expect(parseSettings(args)).toEqual(body);
  });

  it.each([
    [[], /expected at least one KEY=VALUE/],
    [['memory_mb'], /expected KEY=VALUE/],
    [['region=eu'], /unknown setting "region"/],
    [['__proto__=x'], /unknown setting "__proto__"/],
    [['egress=maybe'], /egress: expected true or false/],
    [['memory_mb=1', 'limits.memory_mb=2'], /given more than once/],
  ])('refuses %j', (args, message) => {
    expect(() => parseSettings(args)).toThrow(UsageError);
    expect(() => parseSettings(args)).toThrow(message);
  });
});

describe('settings commands against paastechd', () => {
  let daemon: RunningDaemon;
  let ada: CliUser;

  beforeAll(async () => {
    daemon = await startPaastechd({ role: 'all', timeoutMs: 60_000 });
    ada = cliUser(daemon.endpoints.get('dashboard and API')!.replace(/\/$/, ''));
    const signup = await ada.run(['signup', '--email', 'set@example.com', '--password-stdin'], {
      input: 'correct horse battery staple 42\n',
    });
    expect(signup.code, signup.stderr).toBe(0);
    expect((await ada.run(['projects:create', 'tuned'])).code).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await daemon?.stop();
  });

  it('shows the defaults, changes and resets settings, and prints the API rule for a bad value', async () => {
    const shown = await ada.run(['settings', '-p', 'tuned']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/builder +auto\n/);
    expect(shown.stdout).toMatch(/memory_mb +platform default\n/);
    const set = await ada.run([
      'settings:set',
      'memory_mb=256',
      'egress=false',
      'builder=node',
      '-p',
      'tuned',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(
      'updated the settings of tuned: changes apply at the next deployment; egress applies at once\n',
    );
    const json = JSON.parse((await ada.run(['settings', '--json', '-p', 'tuned'])).stdout);
    expect(json).toMatchObject({ builder: 'node', egress: false, limits: { memory_mb: 256, disk_mb: null } });
    await ada.run(['settings:set', 'memory_mb=default', '-p', 'tuned']);
    expect(
      JSON.parse((await ada.run(['settings', '--json', '-p', 'tuned'])).stdout).limits.memory_mb,
    ).toBeNull();
    const bad = await ada.run(['settings:set', 'memory_mb=8', '-p', 'tuned']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/memory_mb must be a whole number from 16 to 1048576/);
    const other = await ada.run(['settings', '-p', 'not-mine']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/not found/);
  }, 60_000);
});
