// The commands to push to a project, over HTTPS and SSH, each with a copy button.
import { Link } from '../../../shared/router.js';
import { CopyButton } from '../../../shared/ui/copy-button.js';
import type { Project } from '../api/projects.js';
import { pushCommands } from '../git-commands.js';

/** One transport's commands. */
function CommandBlock({ label, url }: { label: string; url: string }) {
  const text = pushCommands(url).join('\n');
  return (
    <div>
      <h3>{label}</h3>
      <div className="code-block">
        <pre>{text}</pre>
        <CopyButton value={text} label={`Copy ${label} commands`} />
      </div>
    </div>
  );
}

/** "Push your code" instructions for a project. */
export function PushCommands({ project }: { project: Project }) {
  return (
    <section className="card" aria-labelledby="push-title">
      <h2 id="push-title">Push your code</h2>
      <p className="muted">
        In your app's git repository, add PaaSTech as a remote and push the <code>main</code> branch (from
        another branch: <code>git push paastech HEAD:main</code>).
      </p>
      <CommandBlock label="HTTPS" url={project.git.http_url} />
      {project.git.ssh_url ? <CommandBlock label="SSH" url={project.git.ssh_url} /> : null}
      <p className="muted">
        Over HTTPS, git asks for a password: use an <Link to="/account/tokens">API token</Link>. Over SSH, add
        your key under <Link to="/account/ssh-keys">SSH keys</Link>.
      </p>
    </section>
  );
}
