// Loads who is signed in once at start-up and shares it with every page.
import { type ReactNode, useEffect, useMemo, useState } from 'react';
import { fetchAccount } from '../features/auth/api/auth.js';
import { type Problem, toProblem } from '../shared/problem.js';
import { type Account, SessionContext } from '../shared/session.js';
import { Page } from '../shared/ui/page.js';
import { ProblemNotice } from '../shared/ui/problem-notice.js';

/** Provides the session; shows the API's problem when even GET /account fails. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [account, setAccount] = useState<Account | null | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    fetchAccount().then(setAccount, (error: unknown) => setProblem(toProblem(error)));
  }, []);
  const value = useMemo(() => ({ account, setAccount }), [account]);
  if (problem) {
    return (
      <Page title="PaaSTech is not reachable">
        <ProblemNotice problem={problem} />
      </Page>
    );
  }
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
