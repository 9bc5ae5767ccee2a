// The projects list (the home page), with an empty state that explains the first step.
import { timeAgo } from '../../../shared/format.js';
import { buildPath } from '../../../shared/route-match.js';
import { Link } from '../../../shared/router.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { latestDeployment, listProjects } from '../api/projects.js';

/** A project's newest deployment: state and when, loaded per row. */
function LastDeployment({ name }: { name: string }) {
  const latest = useLoad(() => latestDeployment(name), [name]);
  if (latest.loading && latest.data === undefined) return <span className="muted">…</span>;
  if (latest.problem) return <span className="muted">unknown</span>;
  if (!latest.data) return <span className="badge">not deployed</span>;
  const d = latest.data;
  const tone = d.state === 'active' ? ' badge-ok' : d.state === 'failed' ? ' badge-bad' : '';
  return (
    <span>
      <span className={`badge${tone}`}>{d.state}</span> v{d.number} · {timeAgo(d.created_at)}
    </span>
  );
}

/** All projects of the account. */
export function ProjectsPage() {
  const projects = useLoad(listProjects, []);
  const create = (
    <Link className="button" to="/projects/new">
      Create project
    </Link>
  );
  return (
    <Page title="Projects" actions={create}>
      <ProblemNotice problem={projects.problem} />
      {projects.loading && !projects.data ? <Loading label="Loading projects…" /> : null}
      {projects.data?.length === 0 ? (
        <EmptyState title="No projects yet">
          <p>
            A project is a git repository PaaSTech builds and runs. Create one, then push your code to it.
          </p>
          {create}
        </EmptyState>
      ) : null}
      {projects.data && projects.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Last deployment</th>
                <th scope="col">URL</th>
                <th scope="col" className="optional">
                  Created
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.data.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={buildPath('/projects/:name', { name: p.name })}>{p.name}</Link>
                  </td>
                  <td>
                    <LastDeployment name={p.name} />
                  </td>
                  <td>
                    <a href={p.app_url} target="_blank" rel="noopener noreferrer">
                      {p.app_url}
                    </a>
                  </td>
                  <td className="optional">{timeAgo(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}
