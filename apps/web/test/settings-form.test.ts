import { describe, expect, it } from 'vitest';
import { changeFrom, formFrom, type Settings } from '../src/features/settings/settings-form.js';

const stored: Settings = {
  health_check_path: '/healthz',
  builder: 'node',
  buildpack: 'custom-buildpack',
  egress: false,
  limits: { memory_mb: 256, cpu_millicores: null, max_processes: 64, disk_mb: null },
  applies: 'changes apply at the next deployment; egress applies at once',
};

describe('settings form', () => {
  it('shows stored settings with empty inputs for platform defaults, and saves them back unchanged', () => {
    const form = formFrom(stored);
    expect(form.limits).toEqual({ memory_mb: '256', cpu_millicores: '', max_processes: '64', disk_mb: '' });
    expect(changeFrom(form)).toEqual({
      health_check_path: '/healthz',
      builder: 'node',
      buildpack: 'custom-buildpack',
      egress: false,
      limits: stored.limits,
    });
  });

  it.each([
    ['', null],
    ['  ', null],
    ['512', 512],
    [' 1024 ', 1024],
    ['1.5', '1.5'],
    ['-1', '-1'],
    ['12abc', '12abc'],
  ])('a limit typed as %j is sent as %j (the API names the rule a bad one breaks)', (typed, sent) => {
    const form = formFrom(stored);
    form.limits.memory_mb = typed;
    expect(changeFrom(form).limits?.memory_mb).toEqual(sent);
  });

  it.each([
    ['', null],
    ['   ', null],
    [' https://example.com/bp.git#v1 ', 'https://example.com/bp.git#v1'],
    ['/etc', '/etc'],
  ])(
    'a buildpack typed as %j is sent as %j (empty = auto-detect; the API judges the rest)',
    (typed, sent) => {
      expect(changeFrom({ ...formFrom(stored), buildpack: typed }).buildpack).toEqual(sent);
    },
  );

  it('auto-detection (null) shows as an empty buildpack input', () => {
    expect(formFrom({ ...stored, buildpack: null }).buildpack).toBe('');
  });

  it('an empty health check path means the platform default (null)', () => {
    expect(changeFrom({ ...formFrom(stored), healthCheckPath: '  ' }).health_check_path).toBeNull();
  });
});
