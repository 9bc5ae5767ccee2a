// The API's configuration once start-up has filled in what only the running server knows.
import { urlHost } from '@paastech/kit';
import { type ApiConfig, DEFAULT_RATE_LIMITS, type RateLimits } from './config.js';

/** ApiConfig with the public URL known and every rate limit set. */
export interface ResolvedApiConfig extends ApiConfig {
  publicUrl: string;
  rateLimits: RateLimits;
}

/** Resolves defaults; `boundPort` is the port actually listened on (the config may say 0). */
export function resolveConfig(config: ApiConfig, boundPort: number): ResolvedApiConfig {
  return {
    ...config,
    publicUrl: config.publicUrl ?? `http://${urlHost(config.listenHost)}:${boundPort}`,
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...config.rateLimits },
  };
}
