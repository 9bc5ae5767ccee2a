// Page chrome: skip link, top bar with navigation and the account's log-out, and the main landmark.
import { type ReactNode, useState } from 'react';
import { logout } from '../features/auth/api/auth.js';
import { type Problem, toProblem } from '../shared/problem.js';
import { Link, navigate } from '../shared/router.js';
import { useSession } from '../shared/session.js';
import { ProblemNotice } from '../shared/ui/problem-notice.js';

/** Navigation for a signed-in person, with the log-out button. */
function AccountNav({ email }: { email: string }) {
  const { setAccount } = useSession();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const signOut = async () => {
    setBusy(true);
    try {
      await logout();
      setAccount(null);
      navigate('/login', { replace: true });
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <nav aria-label="Main">
        <ul>
          <li>
            <Link to="/">Projects</Link>
          </li>
          <li>
            <Link to="/account/tokens">API tokens</Link>
          </li>
          <li>
            <Link to="/account/ssh-keys">SSH keys</Link>
          </li>
        </ul>
      </nav>
      <span className="who">{email}</span>
      <button
        type="button"
        className="button button-secondary button-small"
        onClick={signOut}
        disabled={busy}
      >
        {busy ? 'Logging out…' : 'Log out'}
      </button>
      {problem ? <ProblemNotice problem={problem} /> : null}
    </>
  );
}

/** Navigation for a visitor. */
function VisitorNav() {
  return (
    <nav aria-label="Main">
      <ul>
        <li>
          <Link to="/login">Log in</Link>
        </li>
        <li>
          <Link to="/signup">Sign up</Link>
        </li>
      </ul>
    </nav>
  );
}

/** The top bar and the main content area. */
export function Layout({ children }: { children: ReactNode }) {
  const { account } = useSession();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link className="brand" to="/">
          PaaSTech
        </Link>
        {account ? <AccountNav email={account.email} /> : account === null ? <VisitorNav /> : null}
      </header>
      <main id="main">{children}</main>
    </>
  );
}
