import type { components } from '@paastech/api-client';
import { describe, expect, it } from 'vitest';
import { instancesTable } from '../src/commands/ps/index.js';
import { Output } from '../src/output.js';

type InstanceDto = components['schemas']['InstanceDto'];

const MiB = 1048576;
const instance: InstanceDto = {
  name: 'web.1',
  process_type: 'web',
  state: 'running',
  deployment: 3,
  uptime_seconds: 250,
  restarts: 1,
  last_exit_code: 0,
  memory_bytes: 64 * MiB,
  memory_limit_bytes: 512 * MiB,
  cpu_millicores: 125,
  node: null,
};

/** The table as `paastech ps` prints it (no colour). */
function render(instances: InstanceDto[]): string {
  let text = '';
  const sink = { write: (t: string) => (text += t) };
  const t = instancesTable(instances);
  new Output(sink, sink, { noColor: true }).table(t.headers, t.rows, 'no instances running');
  return text;
}

describe('paastech ps: instances table', () => {
  it('has no NODE column when no instance names its node (local runtime)', () => {
    expect(render([instance, { ...instance, name: 'web.2', node: '' }])).toBe(
      [
        'INSTANCE  STATE    VERSION  UPTIME  RESTARTS  MEMORY            CPU',
        'web.1     running  v3       4m 10s  1         64 MiB / 512 MiB  12.5%',
        'web.2     running  v3       4m 10s  1         64 MiB / 512 MiB  12.5%',
        '',
      ].join('\n'),
    );
  });

  it('shows the node of each instance when some name one (swarm runtime), "-" for the others', () => {
    expect(
      render([
        { ...instance, node: 'manager-1' },
        { ...instance, name: 'web.2', node: 'w2' },
        { ...instance, name: 'worker.1', state: 'starting', uptime_seconds: null, node: null },
      ]),
    ).toBe(
      [
        'INSTANCE  STATE     VERSION  NODE       UPTIME  RESTARTS  MEMORY            CPU',
        'web.1     running   v3       manager-1  4m 10s  1         64 MiB / 512 MiB  12.5%',
        'web.2     running   v3       w2         4m 10s  1         64 MiB / 512 MiB  12.5%',
        'worker.1  starting  v3       -          -       1         64 MiB / 512 MiB  12.5%',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['an API older than the field (node missing)', { ...instance, node: undefined }, false],
    ['null', { ...instance, node: null }, false],
    ['empty', { ...instance, node: '' }, false],
    ['a host name', { ...instance, node: 'n1' }, true],
  ])('%s', (_name, i, column) => {
    const t = instancesTable([i as InstanceDto]);
    expect(t.headers.includes('NODE')).toBe(column);
    expect(t.rows[0]).toHaveLength(t.headers.length);
  });

  it('prints the empty line when nothing runs', () => {
    expect(render([])).toBe('no instances running\n');
  });
});
