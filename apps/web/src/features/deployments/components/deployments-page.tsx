// A project's deployments: newest first, each linking to its build output; earlier good ones can be
// rolled back to, after a confirmation. The list refreshes itself while one is in progress.
import { useState } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { buildPath } from '../../../shared/route-match.js';
import { Link, navigate } from '../../../shared/router.js';
import { ConfirmDialog } from '../../../shared/ui/confirm-dialog.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useInterval } from '../../../shared/use-interval.js';
import { useLoad } from '../../../shared/use-load.js';
import { type Deployment, listDeployments, rollback } from '../api/deployments.js';
import { canRollBackTo, isInProgress, shortSha } from '../deployment-state.js';
import { StateBadge } from './state-badge.js';

/** How often the list refreshes while a deployment moves, and otherwise (to see new pushes). */
const BUSY_REFRESH_MS = 2000;
const IDLE_REFRESH_MS = 3000;

/** The deployments tab of project `name`. */
export function DeploymentsPage({ name }: { name: string }) {
  const list = useLoad(() => listDeployments(name), [name]);
  const [target, setTarget] = useState<Deployment | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const moving = list.data?.some((d) => isInProgress(d.state)) ?? false;
  const { reload } = list;

  useInterval(reload, moving ? BUSY_REFRESH_MS : IDLE_REFRESH_MS);

  const confirm = async () => {
    if (!target) return;
    setBusy(true);
    setProblem(null);
    try {
      const created = await rollback(name, target.number);
      navigate(buildPath('/projects/:name/deployments/:number', { name, number: String(created.number) }));
    } catch (error) {
      setProblem(toProblem(error));
      setTarget(null);
      setBusy(false);
    }
  };

  if (list.loading && !list.data) return <Loading label="Loading deployments…" />;
  return (
    <section aria-labelledby="deployments-title">
      <h2 id="deployments-title">Deployments</h2>
      <ProblemNotice problem={problem ?? list.problem} />
      {list.data?.length === 0 ? (
        <EmptyState title="No deployments yet">
          <p>
            Push your code to deploy it: <code>git push paastech main</code>.
          </p>
        </EmptyState>
      ) : null}
      {list.data && list.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col" className="optional">
                  Commit
                </th>
                <th scope="col" className="optional">
                  Reason
                </th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((d) => (
                <tr key={d.number}>
                  <td>
                    <Link
                      to={buildPath('/projects/:name/deployments/:number', {
                        name,
                        number: String(d.number),
                      })}
                    >
                      v{d.number}
                    </Link>
                  </td>
                  <td>
                    <StateBadge state={d.state} />
                    {d.failure_reason ? <p className="field-error">{d.failure_reason}</p> : null}
                  </td>
                  <td className="optional">
                    <code>{shortSha(d.commit_sha)}</code>
                  </td>
                  <td className="optional">{d.reason}</td>
                  <td>{timeAgo(d.created_at)}</td>
                  <td>
                    {canRollBackTo(d.state) ? (
                      <button
                        type="button"
                        className="button button-secondary button-small"
                        onClick={() => setTarget(d)}
                      >
                        Roll back to v{d.number}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={target !== null}
        title={`Roll back to v${target?.number ?? ''}?`}
        confirmLabel={`Roll back to v${target?.number ?? ''}`}
        busy={busy}
        onConfirm={confirm}
        onCancel={() => setTarget(null)}
      >
        <p>
          This makes a new deployment from v{target?.number}'s build, with the config vars it ran with, which
          become the project's config vars again once it is live. The current deployment keeps serving until
          the new one is healthy.
        </p>
      </ConfirmDialog>
    </section>
  );
}
