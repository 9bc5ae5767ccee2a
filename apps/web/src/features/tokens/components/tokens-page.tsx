// Account → API tokens: create (secret shown once with a copy button), list, revoke with confirmation.
import { type FormEvent, useState } from 'react';
import { timeAgo } from '../../../shared/format.js';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { ConfirmDialog } from '../../../shared/ui/confirm-dialog.js';
import { CopyButton } from '../../../shared/ui/copy-button.js';
import { Field } from '../../../shared/ui/field.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { EmptyState, Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { type CreatedToken, createToken, listTokens, revokeToken, type Token } from '../api/tokens.js';

/** The form creating a token, then showing its secret once. */
function CreateToken({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<CreatedToken | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      setCreated(await createToken(name.trim(), days ? Number(days) : undefined));
      setName('');
      setDays('');
      onCreated();
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card">
      <h2>Create a token</h2>
      {created ? (
        <div className="notice notice-ok" role="status">
          <p className="notice-title">
            Token “{created.name}” created. Copy it now: it will not be shown again.
          </p>
          <div className="code-block">
            <pre className="secret" data-testid="new-token">
              {created.token}
            </pre>
            <CopyButton value={created.token} label="Copy token" />
          </div>
          <button
            type="button"
            className="button button-secondary button-small"
            onClick={() => setCreated(null)}
          >
            Done
          </button>
        </div>
      ) : null}
      <form onSubmit={submit} noValidate>
        <ProblemNotice problem={problem} />
        <Field
          label="Token name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          required
          hint="What will use it, e.g. “deploy script” or “laptop CLI”."
          error={fieldError(problem, 'name')}
        />
        <Field
          label="Expires in (days)"
          type="number"
          min={1}
          max={3650}
          inputMode="numeric"
          value={days}
          onChange={(e) => setDays(e.target.value)}
          hint="Leave empty for a token that does not expire."
          error={fieldError(problem, 'expires_in_days')}
        />
        <button className="button" type="submit" disabled={busy || name.trim() === ''} aria-busy={busy}>
          {busy ? 'Creating…' : 'Create token'}
        </button>
      </form>
    </div>
  );
}

/** One row of the token table with its revoke button. */
function TokenRow({ token, onRevoke }: { token: Token; onRevoke: (t: Token) => void }) {
  return (
    <tr>
      <td>{token.name}</td>
      <td>
        <code>{token.prefix}…</code>
      </td>
      <td className="optional">{timeAgo(token.created_at)}</td>
      <td className="optional">{token.last_used_at ? timeAgo(token.last_used_at) : 'never'}</td>
      <td className="optional">
        {token.expires_at ? new Date(token.expires_at).toLocaleDateString() : 'never'}
      </td>
      <td>
        <button
          type="button"
          className="button button-secondary button-small"
          onClick={() => onRevoke(token)}
          aria-label={`Revoke token ${token.name}`}
        >
          Revoke
        </button>
      </td>
    </tr>
  );
}

/** The API tokens page. */
export function TokensPage() {
  const tokens = useLoad(listTokens, []);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    setProblem(null);
    try {
      await revokeToken(revoking.id);
      setRevoking(null);
      tokens.reload();
    } catch (error) {
      setProblem(toProblem(error));
      setRevoking(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="API tokens">
      <p className="muted">
        Tokens let the CLI, scripts and <code>git push</code> over HTTPS act as you. Treat them like
        passwords.
      </p>
      <CreateToken onCreated={tokens.reload} />
      <h2>Your tokens</h2>
      <ProblemNotice problem={problem ?? tokens.problem} />
      {tokens.loading && !tokens.data ? <Loading label="Loading tokens…" /> : null}
      {tokens.data && tokens.data.length === 0 ? (
        <EmptyState title="No API tokens yet">
          <p>
            Create one above, or run <code>paastech login</code> to get one for the CLI.
          </p>
        </EmptyState>
      ) : null}
      {tokens.data && tokens.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col" className="optional">
                  Created
                </th>
                <th scope="col" className="optional">
                  Last used
                </th>
                <th scope="col" className="optional">
                  Expires
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <TokenRow key={t.id} token={t} onRevoke={setRevoking} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke token “${revoking?.name ?? ''}”?`}
        confirmLabel="Revoke token"
        danger
        busy={busy}
        onConfirm={revoke}
        onCancel={() => setRevoking(null)}
      >
        <p>Anything using it stops working on its next request. This cannot be undone.</p>
      </ConfirmDialog>
    </Page>
  );
}
