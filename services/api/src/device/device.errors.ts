// RFC 8628 §3.5 token-endpoint errors: each is a 400 problem that also carries the RFC's `error`
// member, so OAuth-style clients and problem+json clients both understand it.
import { InvalidArgumentError } from '@paastech/kit';
import type { HasProblemExtensions } from '../http/problem.js';

export type DeviceErrorCode =
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'access_denied'
  | 'invalid_grant';

/** A device-flow polling answer other than the token. */
export class DeviceFlowError extends InvalidArgumentError implements HasProblemExtensions {
  readonly problemExtensions: Record<string, unknown>;
  constructor(error: DeviceErrorCode, description: string, extra: Record<string, unknown> = {}) {
    super(description);
    this.problemExtensions = { error, error_description: description, ...extra };
  }
}
