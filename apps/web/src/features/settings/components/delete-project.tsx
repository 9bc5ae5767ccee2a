// Project settings: deleting it, confirmed by typing its name.
import { useState } from 'react';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { navigate } from '../../../shared/router.js';
import { ConfirmDialog } from '../../../shared/ui/confirm-dialog.js';
import { Field } from '../../../shared/ui/field.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { deleteProject } from '../api/settings.js';

/** The "danger zone" of a project's settings. */
export function DeleteProject({ name }: { name: string }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const confirm = async () => {
    setBusy(true);
    setProblem(null);
    try {
      await deleteProject(name);
      navigate('/', { replace: true });
    } catch (error) {
      setProblem(toProblem(error));
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete this project</h2>
      <p>Deleting removes its git repository, config vars, domains and running app. It cannot be undone.</p>
      <button
        type="button"
        className="button button-danger"
        onClick={() => {
          setTyped('');
          setOpen(true);
        }}
      >
        Delete project
      </button>
      <ConfirmDialog
        open={open}
        title={`Delete ${name}?`}
        confirmLabel={`Delete ${name}`}
        danger
        busy={busy}
        confirmDisabled={typed !== name}
        onConfirm={confirm}
        onCancel={() => setOpen(false)}
      >
        <ProblemNotice problem={problem} />
        <Field
          label={`Type ${name} to confirm`}
          value={typed}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          onChange={(e) => setTyped(e.target.value)}
        />
      </ConfirmDialog>
    </section>
  );
}
