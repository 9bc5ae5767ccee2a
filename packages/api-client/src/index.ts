// @paastech/api-client: the typed REST client of the Central API, shared by the CLI and the dashboard.
// Request and response shapes come only from src/schema.ts, which is generated from the API's OpenAPI
// document (scripts/generate.mjs); nothing here describes a route by hand.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';

/** The client: `api.GET('/api/v1/projects')`, `api.POST(…, { body })`, typed by the OpenAPI document. */
export type ApiClient = Client<paths>;

/** Every schema (DTO) of the document by name. */
export type Schemas = components['schemas'];

/** One field that broke a rule, as the API lists them in a validation problem. */
export interface ProblemFieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document, as the API answers every error. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: ProblemFieldError[];
  [extension: string]: unknown;
}

/** A non-2xx answer of the API: carries the problem document (`detail` is the message to show). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem, options?: { cause?: unknown }) {
    super(problem.detail ?? problem.title, options);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }

  /** The problem's `type` URI (e.g. `about:blank`, or the API's error type). */
  get type(): string {
    return this.problem.type;
  }

  get title(): string {
    return this.problem.title;
  }

  get detail(): string | undefined {
    return this.problem.detail;
  }

  get errors(): ProblemFieldError[] {
    return this.problem.errors ?? [];
  }
}

export interface ApiClientOptions {
  /** The server root, e.g. `http://127.0.0.1:3000` (paths in the document start with `/api/`). */
  baseUrl: string;
  /** An API token sent as `Authorization: Bearer`; omit for anonymous calls or cookie sessions. */
  token?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: (input: Request) => Promise<Response>;
  /** Extra headers sent with every request (e.g. `user-agent`). */
  headers?: Record<string, string>;
}

/** Creates a typed client for the API at `baseUrl`. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** Builds a Problem from an error body, also when a proxy answered with something that is not one. */
export function toProblem(status: number, statusText: string, body: unknown): Problem {
  const fallback: Problem = { type: 'about:blank', title: statusText || `HTTP ${status}`, status };
  if (typeof body === 'string' && body.trim()) return { ...fallback, detail: body.trim().slice(0, 500) };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return fallback;
  const b = body as Record<string, unknown>;
  const problem: Problem = {
    ...b,
    type: typeof b.type === 'string' ? b.type : fallback.type,
    title: typeof b.title === 'string' ? b.title : fallback.title,
    status: typeof b.status === 'number' ? b.status : status,
  };
  if (typeof b.detail !== 'string') delete problem.detail;
  if (Array.isArray(b.errors)) problem.errors = b.errors.filter(isFieldError);
  else delete problem.errors;
  return problem;
}

function isFieldError(e: unknown): e is ProblemFieldError {
  const o = e as Partial<ProblemFieldError> | null;
  return typeof o?.field === 'string' && typeof o.message === 'string';
}

/** What every openapi-fetch call resolves with. */
interface CallResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Resolves with a call's data, or rejects with an ApiError carrying the server's problem document. */
export async function unwrap<T>(call: Promise<CallResult<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(toProblem(response.status, response.statusText, error));
  return data as T;
}
