// Who is signed in, shared by the layout and every feature. The app's SessionProvider fills it from
// GET /api/v1/account; features read it and report sign-in/sign-out through it.
import { createContext, useContext } from 'react';
import type { Schemas } from './api.js';

export type Account = Schemas['AccountDto'];

export interface SessionState {
  /** undefined while loading, null when signed out. */
  account: Account | null | undefined;
  setAccount: (account: Account | null) => void;
}

export const SessionContext = createContext<SessionState>({ account: undefined, setAccount: () => {} });

/** The current session. */
export function useSession(): SessionState {
  return useContext(SessionContext);
}
