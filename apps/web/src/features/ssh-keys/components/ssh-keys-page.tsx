// Account → SSH keys: add a public key (pasted .pub line), list by fingerprint, remove.
import { type FormEvent, useId, useState } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { ConfirmDialog } from '../../../shared/ui/confirm-dialog.js';
import { Field } from '../../../shared/ui/field.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { addSshKey, listSshKeys, removeSshKey, type SshKey } from '../api/ssh-keys.js';

/** The add-key form. */
function AddKey({ onAdded }: { onAdded: () => void }) {
  const keyId = useId();
  const [publicKey, setPublicKey] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const keyError = fieldError(problem, 'public_key');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await addSshKey(publicKey.trim(), name.trim() || undefined);
      setPublicKey('');
      setName('');
      onAdded();
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} noValidate>
      <h2>Add a key</h2>
      <ProblemNotice problem={problem} />
      <div className="field">
        <label htmlFor={keyId}>Public key</label>
        <textarea
          id={keyId}
          value={publicKey}
          spellCheck={false}
          placeholder="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5… you@laptop"
          aria-describedby={`${keyId}-hint${keyError ? ` ${keyId}-error` : ''}`}
          aria-invalid={keyError ? true : undefined}
          onChange={(e) => setPublicKey(e.target.value)}
        />
        <p id={`${keyId}-hint`} className="field-hint">
          Paste the contents of <code>~/.ssh/id_ed25519.pub</code> (never the private key).
        </p>
        {keyError ? (
          <p id={`${keyId}-error`} className="field-error">
            {keyError}
          </p>
        ) : null}
      </div>
      <Field
        label="Name (optional)"
        value={name}
        maxLength={100}
        onChange={(e) => setName(e.target.value)}
        hint="Defaults to the key's comment."
        error={fieldError(problem, 'name')}
      />
      <button className="button" type="submit" disabled={busy || publicKey.trim() === ''} aria-busy={busy}>
        {busy ? 'Adding key…' : 'Add key'}
      </button>
    </form>
  );
}

/** The SSH keys page. */
export function SshKeysPage() {
  const keys = useLoad(listSshKeys, []);
  const [removing, setRemoving] = useState<SshKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    setProblem(null);
    try {
      await removeSshKey(removing.id);
      keys.reload();
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setRemoving(null);
      setBusy(false);
    }
  };

  return (
    <Page title="SSH keys">
      <p className="muted">Keys let you push over SSH. Each key belongs to one account.</p>
      <AddKey onAdded={keys.reload} />
      <h2>Your keys</h2>
      <ProblemNotice problem={problem ?? keys.problem} />
      {keys.loading && !keys.data ? <Loading label="Loading SSH keys…" /> : null}
      {keys.data?.length === 0 ? (
        <EmptyState title="No SSH keys yet">
          <p>
            Add one above, or run <code>paastech keys:add</code>.
          </p>
        </EmptyState>
      ) : null}
      {keys.data && keys.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Fingerprint</th>
                <th scope="col" className="optional">
                  Type
                </th>
                <th scope="col" className="optional">
                  Last used
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.fingerprint}</code>
                  </td>
                  <td className="optional">
                    {k.type} ({k.bits} bits)
                  </td>
                  <td className="optional">{k.last_used_at ? timeAgo(k.last_used_at) : 'never'}</td>
                  <td>
                    <button
                      type="button"
                      className="button button-secondary button-small"
                      onClick={() => setRemoving(k)}
                      aria-label={`Remove key ${k.name}`}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={removing !== null}
        title={`Remove key “${removing?.name ?? ''}”?`}
        confirmLabel="Remove key"
        danger
        busy={busy}
        onConfirm={remove}
        onCancel={() => setRemoving(null)}
      >
        <p>Pushes over SSH with this key will be refused.</p>
      </ConfirmDialog>
    </Page>
  );
}
