// Shows a failed request: the API's own message (problem+json detail) and what to do about it.
// A 401 means the session ended (expired, or logged out elsewhere): the session is cleared, so the
// route guard sends the person to log in and back here afterwards.
import { useEffect } from 'react';
import { hintFor, type Problem } from '../problem.js';
import { useSession } from '../session.js';

/** An alert with the problem's title, detail and a hint; renders nothing without a problem. */
export function ProblemNotice({ problem }: { problem: Problem | null | undefined }) {
  const { account, setAccount } = useSession();
  const expired = problem?.status === 401 && Boolean(account);
  useEffect(() => {
    if (expired) setAccount(null);
  }, [expired, setAccount]);
  if (!problem) return null;
  return (
    <div className="notice notice-error" role="alert">
      <p className="notice-title">{problem.detail ?? problem.title}</p>
      {problem.errors && problem.errors.length > 0 ? (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.message}`}>
              <strong>{e.field}</strong>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      <p className="notice-hint">{hintFor(problem)}</p>
    </div>
  );
}
