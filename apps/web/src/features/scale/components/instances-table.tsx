// The instances of a project with their state, node (swarm runtime), uptime, restarts and memory.
import { formatBytes } from '../../../shared/format.js';
import { EmptyState } from '../../../shared/ui/status.js';
import type { ProjectStatus } from '../api/scale.js';
import { formatUptime, showsNodes } from '../formation.js';

const TONES: Record<string, string> = {
  running: 'badge badge-ok',
  crashed: 'badge badge-bad',
  unhealthy: 'badge badge-bad',
};

/** A table of instances, or an empty state when none runs. */
export function InstancesTable({ status }: { status: ProjectStatus }) {
  if (status.instances.length === 0) {
    return (
      <EmptyState title={status.stopped ? 'The app is stopped' : 'No instances running'}>
        <p>Instances start when a deployment becomes active and the formation asks for them.</p>
      </EmptyState>
    );
  }
  const nodes = showsNodes(status.instances);
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Instance</th>
            <th scope="col">State</th>
            {nodes && (
              <th scope="col" className="optional">
                Node
              </th>
            )}
            <th scope="col">Uptime</th>
            <th scope="col" className="optional">
              Restarts
            </th>
            <th scope="col" className="optional">
              Memory
            </th>
            <th scope="col" className="optional">
              Version
            </th>
          </tr>
        </thead>
        <tbody>
          {status.instances.map((i) => (
            <tr key={i.name}>
              <td>{i.name}</td>
              <td>
                <span className={TONES[i.state] ?? 'badge badge-busy'}>{i.state}</span>
              </td>
              {nodes && <td className="optional">{i.node || '-'}</td>}
              <td>{formatUptime(i.uptime_seconds)}</td>
              <td className="optional">{i.restarts}</td>
              <td className="optional">
                {formatBytes(i.memory_bytes)}
                {i.memory_limit_bytes > 0 ? ` of ${formatBytes(i.memory_limit_bytes)}` : ''}
              </td>
              <td className="optional">v{i.deployment}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
