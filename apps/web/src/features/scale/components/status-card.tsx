// The overview's "running" card (active and pending deployment, instances) and its traffic card,
// both from one status poll.

import { buildPath } from '../../../shared/route-match.js';
import { Link } from '../../../shared/router.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { Loading } from '../../../shared/ui/status.js';
import { useInterval } from '../../../shared/use-interval.js';
import { useLoad } from '../../../shared/use-load.js';
import { getStatus } from '../api/scale.js';
import { InstancesTable } from './instances-table.js';
import { TrafficCard } from './traffic-card.js';

/** How often the status refreshes. */
const STATUS_REFRESH_MS = 3000;

/** Live status and request counts of project `name`. */
export function StatusCard({ name }: { name: string }) {
  const status = useLoad(() => getStatus(name), [name]);
  useInterval(status.reload, STATUS_REFRESH_MS);
  const s = status.data;
  return (
    <>
      <section className="card" aria-labelledby="status-title">
        <h2 id="status-title">Running</h2>
        {status.loading && !s ? <Loading label="Loading status…" /> : null}
        <ProblemNotice problem={status.problem} />
        {s ? (
          <>
            <p>
              {s.active_deployment ? `v${s.active_deployment} is active.` : 'Nothing is deployed yet.'}
              {s.pending_deployment ? (
                <>
                  {' '}
                  <Link
                    to={buildPath('/projects/:name/deployments/:number', {
                      name,
                      number: String(s.pending_deployment),
                    })}
                  >
                    v{s.pending_deployment} is on its way
                  </Link>
                  .
                </>
              ) : null}
            </p>
            <InstancesTable status={s} />
          </>
        ) : null}
      </section>
      {s ? <TrafficCard traffic={s.traffic} /> : null}
    </>
  );
}
