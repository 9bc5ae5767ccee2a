// Environment parsing shared by every service's config.ts: zod schemas, parsed once, every invalid
// variable reported together. This file and the services' config.ts files are the only readers of
// process.env in the repository (enforced by tools/check-layout.mjs).
import path from 'node:path';
import { z } from 'zod';

/** The environment as a plain read-only map (process.env by default). */
export type Env = Readonly<Record<string, string | undefined>>;

/** The process environment; call sites pass it explicitly so tests can pass their own. */
export function processEnv(): Env {
  return process.env;
}

/** One variable that failed validation. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Invalid configuration; the message lists every issue, one per line. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Treats empty strings as unset, so `PAASTECH_X=` means "use the default". */
function withoutEmpty(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** Parses `env` with a zod object schema; throws ConfigError listing every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(withoutEmpty(env));
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    variable: i.path.map(String).join('.') || '(environment)',
    message: i.message,
  }));
  throw new ConfigError(issues);
}

/** Runs several config readers and reports the issues of all of them together. */
export function collectConfig<T extends Record<string, () => unknown>>(
  readers: T,
): { [K in keyof T]: ReturnType<T[K]> } {
  const out: Record<string, unknown> = {};
  const issues = new Map<string, ConfigIssue>();
  for (const [key, read] of Object.entries(readers)) {
    try {
      out[key] = read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const issue of err.issues) issues.set(`${issue.variable}\0${issue.message}`, issue);
    }
  }
  if (issues.size > 0) throw new ConfigError([...issues.values()]);
  return out as { [K in keyof T]: ReturnType<T[K]> };
}

/** A TCP port number (1–65535, or 0 for any free port), with a default. */
export const port = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a port number' })
    .int('must be a whole number')
    .min(0, 'must be between 1 and 65535 (0 = any free port)')
    .max(65535, 'must be between 1 and 65535 (0 = any free port)')
    .default(fallback);

/** A gRPC address: `unix:/absolute/path.sock` or `host:port`. */
export const grpcAddress = z
  .string()
  .regex(
    /^(unix:\/.+|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})$/,
    'must be unix:/absolute/path.sock or host:port',
  );

/** A DNS name without scheme or port (e.g. `localhost`, `apps.example.com`). */
export const hostname = z
  .string()
  .toLowerCase()
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    'must be a DNS name such as apps.example.com (no scheme, no port)',
  );

/** An IP address or hostname to listen on. */
export const listenHost = z
  .string()
  .regex(/^[A-Za-z0-9.:-]+$/, 'must be an IP address or a hostname such as 127.0.0.1 or ::');

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/** Variables every service understands. */
export const commonShape = {
  PAASTECH_DATA_DIR: z.string().default('.paastech'),
  PAASTECH_LISTEN_HOST: listenHost.default('127.0.0.1'),
  PAASTECH_LOG_LEVEL: logLevel,
  PAASTECH_LOG_FORMAT: z.enum(['json', 'pretty', 'auto']).default('auto'),
  PAASTECH_INTERNAL_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
};

/** Settings every service shares, after parsing. */
export interface CommonConfig {
  /** Absolute path of the root of all state (database, repositories, builds, logs, keys). */
  dataDir: string;
  listenHost: string;
  log: { level: z.output<typeof logLevel>; format: 'json' | 'pretty' | 'auto' };
  /** Secret shared by the services of one installation; unset = a file in the data dir. */
  internalSecret?: string;
}

/** Turns the parsed common variables into a CommonConfig (data dir made absolute). */
export function toCommonConfig(
  parsed: {
    PAASTECH_DATA_DIR: string;
    PAASTECH_LISTEN_HOST: string;
    PAASTECH_LOG_LEVEL: CommonConfig['log']['level'];
    PAASTECH_LOG_FORMAT: CommonConfig['log']['format'];
    PAASTECH_INTERNAL_SECRET?: string | undefined;
  },
  cwd: string = process.cwd(),
): CommonConfig {
  return {
    dataDir: path.resolve(cwd, parsed.PAASTECH_DATA_DIR),
    listenHost: parsed.PAASTECH_LISTEN_HOST,
    log: { level: parsed.PAASTECH_LOG_LEVEL, format: parsed.PAASTECH_LOG_FORMAT },
    ...(parsed.PAASTECH_INTERNAL_SECRET ? { internalSecret: parsed.PAASTECH_INTERNAL_SECRET } : {}),
  };
}

/** Default Unix socket address of a service's gRPC server under the data dir. */
export function defaultSocket(dataDir: string, service: 'api' | 'git' | 'pomegrenade'): string {
  return `unix:${path.join(dataDir, 'run', `${service}.sock`)}`;
}
