// The data planes the shared suite runs against: `node` (its default: worker processes, one per
// CPU), `node` in the router's own process (PAASTECH_ROUTER_WORKERS=1), and `haproxy` when the
// binary is here.
import { type Dataplane, haproxyAvailable } from '../../src/index.js';

/** A data plane as the suite names it. */
export type PlaneName = Dataplane | 'node (one process)';

export const PLANES: PlaneName[] = [
  'node',
  'node (one process)',
  ...(haproxyAvailable() ? (['haproxy'] as const) : []),
];

/** The data plane and the variables that select `name`. */
export function planeSetup(name: PlaneName): { dataplane: Dataplane; env: Record<string, string> } {
  if (name === 'node (one process)') return { dataplane: 'node', env: { PAASTECH_ROUTER_WORKERS: '1' } };
  // The worker plane with two workers even on a one-CPU host, so the suite always covers it.
  if (name === 'node') return { dataplane: 'node', env: { PAASTECH_ROUTER_WORKERS: '2' } };
  // Two HAProxy processes even on a one-CPU host: the suite always covers the processes' fan-out.
  return { dataplane: name, env: { PAASTECH_ROUTER_WORKERS: '2' } };
}
