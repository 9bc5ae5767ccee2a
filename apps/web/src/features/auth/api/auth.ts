// Sign-up, log-in, log-out and the current account (session cookie set and cleared by the API).
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type Account = Schemas['AccountDto'];

/** The signed-in account, or null when the browser has no valid session. */
export async function fetchAccount(): Promise<Account | null> {
  const result = await api.GET('/api/v1/account');
  if (result.response.status === 401) return null;
  return unwrap(Promise.resolve(result));
}

/** Creates an account and signs in. */
export function signup(email: string, password: string): Promise<Account> {
  return unwrap(api.POST('/api/v1/auth/signup', { body: { email, password } }));
}

/** Signs in with e-mail and password. */
export async function login(email: string, password: string): Promise<Account> {
  const result = await unwrap(api.POST('/api/v1/auth/login', { body: { email, password } }));
  return result.account;
}

/** Ends the session. */
export async function logout(): Promise<void> {
  await unwrap(api.POST('/api/v1/auth/logout'));
}
