// API tokens of the account: listed by prefix, created (the secret shown once), revoked.
import { api, type Schemas, unwrap } from '../../../shared/api.js';

export type Token = Schemas['TokenDto'];
export type CreatedToken = Schemas['CreatedTokenDto'];

/** The account's tokens. */
export function listTokens(): Promise<Token[]> {
  return unwrap(api.GET('/api/v1/tokens'));
}

/** Creates a token; the response is the only time its secret is visible. */
export function createToken(name: string, expiresInDays?: number): Promise<CreatedToken> {
  const body = expiresInDays ? { name, expires_in_days: expiresInDays } : { name };
  return unwrap(api.POST('/api/v1/tokens', { body }));
}

/** Revokes a token: it stops working on the next request. */
export async function revokeToken(id: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } }));
}
