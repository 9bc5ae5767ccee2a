// Create a project, then show exactly how to push to it.
import { type FormEvent, useState } from 'react';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { buildPath } from '../../../shared/route-match.js';
import { Link } from '../../../shared/router.js';
import { Field } from '../../../shared/ui/field.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { createProject, type Project } from '../api/projects.js';
import { PushCommands } from './push-commands.js';

/** The create-project form; on success, the push instructions. */
export function CreateProjectPage() {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<Project | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      setCreated(await createProject(name.trim()));
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    return (
      <Page title={`Project ${created.name} created`}>
        <p>
          It will be served at{' '}
          <a href={created.app_url} target="_blank" rel="noopener noreferrer">
            {created.app_url}
          </a>{' '}
          once you push.
        </p>
        <PushCommands project={created} />
        <Link className="button" to={buildPath('/projects/:name', { name: created.name })}>
          Go to {created.name}
        </Link>
      </Page>
    );
  }
  return (
    <Page title="Create a project">
      <form className="card" onSubmit={submit} noValidate>
        <ProblemNotice problem={problem} />
        <Field
          label="Project name"
          name="name"
          value={name}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          maxLength={63}
          required
          onChange={(e) => setName(e.target.value)}
          hint="Lower-case letters, digits and -, up to 63 characters. It becomes part of the app's address."
          error={fieldError(problem, 'name')}
        />
        <div className="button-row">
          <button className="button" type="submit" disabled={busy || name.trim() === ''} aria-busy={busy}>
            {busy ? 'Creating project…' : 'Create project'}
          </button>
          <Link to="/">Cancel</Link>
        </div>
      </form>
    </Page>
  );
}
