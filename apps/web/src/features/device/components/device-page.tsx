// /device: the person enters (or confirms, from ?user_code=) the code their CLI shows, checks it
// matches, and approves or denies that CLI's sign-in.
import { type FormEvent, useState } from 'react';
import { type Problem, toProblem } from '../../../shared/problem.js';
import { navigate, useSearchParams } from '../../../shared/router.js';
import { useSession } from '../../../shared/session.js';
import { Field } from '../../../shared/ui/field.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { Loading } from '../../../shared/ui/status.js';
import { useLoad } from '../../../shared/use-load.js';
import { approveDevice, denyDevice, getDevice } from '../api/device.js';
import { normaliseUserCode } from '../user-code.js';

/** Asks for the code when none is in the address. */
function EnterCode() {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const normal = normaliseUserCode(code);
    if (!normal) {
      setError('the code has 8 letters and digits, like WDJB-MJHT');
      return;
    }
    navigate(`/device?user_code=${encodeURIComponent(normal)}`);
  };
  return (
    <form className="card" onSubmit={submit} noValidate>
      <p>
        Run <code>paastech login</code> in your terminal and enter the code it shows.
      </p>
      <Field
        label="Code"
        value={code}
        autoComplete="off"
        autoCapitalize="characters"
        spellCheck={false}
        placeholder="WDJB-MJHT"
        onChange={(e) => setCode(e.target.value)}
        error={error}
      />
      <button className="button" type="submit">
        Continue
      </button>
    </form>
  );
}

const STATUS_TEXT: Record<string, string> = {
  approved: 'This sign-in was already approved.',
  consumed: 'This code was already used: the CLI is signed in.',
  denied: 'This sign-in was denied.',
  expired: 'This code has expired. Run paastech login again for a new one.',
};

/** Shows a code's request and the approve/deny buttons. */
function ConfirmCode({ userCode }: { userCode: string }) {
  const { account } = useSession();
  const info = useLoad(() => getDevice(userCode), [userCode]);
  const [busy, setBusy] = useState<'approve' | 'deny' | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState<'approved' | 'denied' | null>(null);

  const act = async (kind: 'approve' | 'deny') => {
    setBusy(kind);
    setProblem(null);
    try {
      await (kind === 'approve' ? approveDevice(userCode) : denyDevice(userCode));
      setDone(kind === 'approve' ? 'approved' : 'denied');
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(null);
    }
  };

  if (done) {
    return (
      <div className={`notice ${done === 'approved' ? 'notice-ok' : 'notice-warn'}`} role="status">
        <p className="notice-title">
          {done === 'approved' ? 'CLI signed in. You can go back to your terminal.' : 'Sign-in denied.'}
        </p>
      </div>
    );
  }
  if (info.loading && !info.data) return <Loading label="Looking up the code…" />;
  if (info.problem) return <ProblemNotice problem={info.problem} />;
  const status = info.data?.status ?? 'pending';
  return (
    <div className="card">
      <p>Check that your terminal shows this code:</p>
      <p className="user-code" data-testid="user-code">
        {userCode}
      </p>
      {status === 'pending' ? (
        <>
          <p>
            Approving lets that CLI act as <strong>{account?.email}</strong> with a new API token.
          </p>
          <ProblemNotice problem={problem} />
          <div className="button-row">
            <button type="button" className="button" disabled={busy !== null} onClick={() => act('approve')}>
              {busy === 'approve' ? 'Approving…' : 'Approve'}
            </button>
            <button
              type="button"
              className="button button-secondary"
              disabled={busy !== null}
              onClick={() => act('deny')}
            >
              {busy === 'deny' ? 'Denying…' : 'Deny'}
            </button>
          </div>
        </>
      ) : (
        <p className="notice notice-warn">{STATUS_TEXT[status] ?? `This code is ${status}.`}</p>
      )}
    </div>
  );
}

/** The device approval page. */
export function DevicePage() {
  const raw = useSearchParams().get('user_code');
  const userCode = raw ? normaliseUserCode(raw) : null;
  return (
    <div className="narrow">
      <Page title="Sign in the CLI">
        {raw && !userCode ? (
          <p className="notice notice-error" role="alert">
            “{raw}” is not a valid code: it has 8 letters and digits, like WDJB-MJHT.
          </p>
        ) : null}
        {userCode ? <ConfirmCode userCode={userCode} /> : <EnterCode />}
      </Page>
    </div>
  );
}
