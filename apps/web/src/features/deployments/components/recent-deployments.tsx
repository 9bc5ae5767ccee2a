// The overview's recent deployments (the last five), linking to the full list.
import { timeAgo } from '../../../shared/format.js';
import { buildPath } from '../../../shared/route-match.js';
import { Link } from '../../../shared/router.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { listDeployments } from '../api/deployments.js';
import { shortSha } from '../deployment-state.js';
import { StateBadge } from './state-badge.js';

/** The last five deployments of project `name`. */
export function RecentDeployments({ name }: { name: string }) {
  const list = useLoad(() => listDeployments(name), [name]);
  return (
    <section className="card" aria-labelledby="recent-title">
      <h2 id="recent-title">Recent deployments</h2>
      {list.loading && !list.data ? <Loading label="Loading deployments…" /> : null}
      <ProblemNotice problem={list.problem} />
      {list.data?.length === 0 ? <EmptyState title="No deployments yet" /> : null}
      {list.data && list.data.length > 0 ? (
        <ul className="plain-list">
          {list.data.slice(0, 5).map((d) => (
            <li key={d.number}>
              <Link to={buildPath('/projects/:name/deployments/:number', { name, number: String(d.number) })}>
                v{d.number}
              </Link>
              <StateBadge state={d.state} />
              <code>{shortSha(d.commit_sha)}</code>
              <span className="muted">{timeAgo(d.created_at)}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
