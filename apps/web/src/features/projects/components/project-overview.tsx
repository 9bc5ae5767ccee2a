// A project's overview: where it is served, how to push to it.
import { timeAgo } from '../../../shared/format.js';
import type { Project } from '../api/projects.js';
import { PushCommands } from './push-commands.js';

/** Facts about the project and its push instructions. */
export function ProjectOverview({ project }: { project: Project }) {
  return (
    <>
      <section className="card" aria-labelledby="facts-title">
        <h2 id="facts-title">Details</h2>
        <dl className="facts">
          <dt>URL</dt>
          <dd>
            <a href={project.app_url} target="_blank" rel="noopener noreferrer">
              {project.app_url}
            </a>
          </dd>
          <dt>Git (HTTPS)</dt>
          <dd>
            <code>{project.git.http_url}</code>
          </dd>
          {project.git.ssh_url ? (
            <>
              <dt>Git (SSH)</dt>
              <dd>
                <code>{project.git.ssh_url}</code>
              </dd>
            </>
          ) : null}
          <dt>Created</dt>
          <dd>
            <time dateTime={project.created_at}>{timeAgo(project.created_at)}</time>
          </dd>
        </dl>
      </section>
      <PushCommands project={project} />
    </>
  );
}
