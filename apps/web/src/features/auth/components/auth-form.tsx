// The sign-up and log-in forms: one component, two wordings. After success the person goes where
// they were heading (`?next=`, same-origin paths only) or to their projects.
import { type FormEvent, useState } from 'react';
import { fieldError, type Problem, toProblem } from '../../../shared/problem.js';
import { Link, navigate, useSearchParams } from '../../../shared/router.js';
import { useSession } from '../../../shared/session.js';
import { Field } from '../../../shared/ui/field.js';
import { Page } from '../../../shared/ui/page.js';
import { ProblemNotice } from '../../../shared/ui/problem-notice.js';
import { login, signup } from '../api/auth.js';
import { safeNext } from '../next.js';

/** Sign-up (mode 'signup') or log-in (mode 'login') page. */
export function AuthForm({ mode }: { mode: 'signup' | 'login' }) {
  const { setAccount } = useSession();
  const next = safeNext(useSearchParams().get('next'));
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const isSignup = mode === 'signup';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const account = isSignup ? await signup(email, password) : await login(email, password);
      setAccount(account);
      navigate(next, { replace: true });
    } catch (error) {
      setProblem(toProblem(error));
      setBusy(false);
    }
  };

  const other = isSignup ? '/login' : '/signup';
  const otherHref = next === '/' ? other : `${other}?next=${encodeURIComponent(next)}`;
  return (
    <div className="narrow">
      <Page title={isSignup ? 'Create your account' : 'Log in'}>
        <form className="card" onSubmit={submit} noValidate>
          <ProblemNotice problem={problem} />
          <Field
            label="E-mail"
            type="email"
            name="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            error={fieldError(problem, 'email')}
          />
          <Field
            label="Password"
            type="password"
            name="password"
            autoComplete={isSignup ? 'new-password' : 'current-password'}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={fieldError(problem, 'password')}
            hint={isSignup ? 'At least 10 characters, not a common password.' : undefined}
          />
          <div className="button-row">
            <button className="button" type="submit" disabled={busy} aria-busy={busy}>
              {busy ? (isSignup ? 'Creating account…' : 'Logging in…') : isSignup ? 'Sign up' : 'Log in'}
            </button>
          </div>
        </form>
        <p>
          {isSignup ? 'Already have an account? ' : 'New to PaaSTech? '}
          <Link to={otherHref}>{isSignup ? 'Log in' : 'Create an account'}</Link>
        </p>
      </Page>
    </div>
  );
}
