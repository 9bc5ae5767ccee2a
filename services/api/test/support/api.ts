// Starts the real API (REST + gRPC) on a fresh database of a dialect, captures every log line, and
// offers small HTTP helpers that speak as the dashboard (cookie + Origin) or as the CLI (Bearer).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type ServiceHandle } from '@paastech/kit';
import { type ApiConfig, startApi } from '../../src/index.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './databases.js';

/** A running API for tests. */
export interface TestApi {
  baseUrl: string;
  grpcAddress: string;
  internalSecret: string;
  dialect: TestDialect;
  database: TestDatabase;
  /** Every log line written so far (JSON text). */
  logs: string[];
  handle: ServiceHandle;
  stop(): Promise<void>;
}

/** Starts the API on a fresh database; `overrides` change its configuration. */
export async function startTestApi(
  dialect: TestDialect,
  overrides: Partial<ApiConfig> = {},
): Promise<TestApi> {
  const database = await createTestDatabase(dialect);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const internalSecret = randomBytes(24).toString('hex');
  const config: ApiConfig = {
    dataDir: database.dataDir,
    listenHost: '127.0.0.1',
    log: { level: 'trace', format: 'json' },
    internalSecret,
    port: 0,
    appsDomain: 'apps.test',
    grpcAddress: `unix:${path.join(database.dataDir, 'run', 'api.sock')}`,
    gitGrpcAddress: `unix:${path.join(database.dataDir, 'run', 'git.sock')}`,
    pomegrenadeGrpcAddress: `unix:${path.join(database.dataDir, 'run', 'pomegrenade.sock')}`,
    routerPort: 8080,
    ...(database.databaseUrl ? { databaseUrl: database.databaseUrl } : {}),
    ...overrides,
  } as ApiConfig;
  const logger = createLogger('api', { level: 'trace', format: 'json', destination: sink });
  const handle = startApi(config, logger);
  try {
    await handle.ready;
  } catch (err) {
    await database.drop();
    throw err;
  }
  const url = handle.endpoints()[0]?.url ?? '';
  return {
    baseUrl: url.replace(/\/$/, ''),
    grpcAddress: config.grpcAddress,
    internalSecret,
    dialect,
    database,
    logs,
    handle,
    async stop() {
      await handle.stop();
      await database.drop();
    },
  };
}

/** A response with its body parsed when it is JSON. */
export interface Res {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON members
  body: any;
  text: string;
}

/** How a request authenticates. */
export type As = { cookie: string; origin?: string | null } | { token: string } | undefined;

/** Sends a request to the API; JSON-encodes `body` unless it is a string (sent raw as JSON). */
export async function call(
  api: Pick<TestApi, 'baseUrl'>,
  method: string,
  url: string,
  options: { body?: unknown; as?: As; headers?: Record<string, string> } = {},
): Promise<Res> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const as = options.as;
  if (as && 'token' in as) headers.authorization = `Bearer ${as.token}`;
  if (as && 'cookie' in as) {
    headers.cookie = as.cookie;
    if (as.origin !== null) headers.origin = as.origin ?? api.baseUrl;
  }
  const res = await fetch(api.baseUrl + url, {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, body, text };
}

/** The `name=value` of the session cookie a response set, or undefined. */
export function sessionCookie(res: Res): string | undefined {
  const set = res.headers.getSetCookie().find((c) => /^(__Host-)?paastech_session=/.test(c));
  return set?.split(';')[0];
}

let counter = 0;

/** A Client signed up through the API: its cookie (session) and an API token. */
export interface TestClient {
  id: string;
  email: string;
  password: string;
  cookie: string;
  token: string;
  tokenId: string;
}

/** Signs up a new Client and creates an API token for it. */
export async function signUp(api: Pick<TestApi, 'baseUrl'>, label = 'client'): Promise<TestClient> {
  const email = `${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}@example.com`;
  const password = `correct horse ${randomBytes(6).toString('hex')}`;
  const res = await call(api, 'POST', '/api/v1/auth/signup', { body: { email, password } });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${res.text}`);
  const cookie = sessionCookie(res);
  if (!cookie) throw new Error('sign-up set no session cookie');
  const tok = await call(api, 'POST', '/api/v1/tokens', { body: { name: 'test' }, as: { cookie } });
  if (tok.status !== 201) throw new Error(`token creation failed: ${tok.status} ${tok.text}`);
  return { id: res.body.id, email, password, cookie, token: tok.body.token, tokenId: tok.body.id };
}
