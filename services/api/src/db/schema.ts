// The database schema as TypeScript types, one interface per table (snake_case like the columns).
// Portable types only, so one set of queries serves SQLite and PostgreSQL: ids are text generated
// in JS (UUIDv7), timestamps are ISO-8601 UTC text (`Date#toISOString()`, so text order is time
// order), booleans are integers 0/1, JSON is text.
import type { Generated } from 'kysely';

/** ISO-8601 UTC timestamp text, e.g. 2026-11-28T13:37:00.000Z. */
export type Timestamp = string;

export interface ClientsTable {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  password_hash: string;
  created_at: Timestamp;
}

export interface SessionsTable {
  /** sha256 (hex) of the random session id held by the cookie. */
  id_hash: string;
  client_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_seen_at: Timestamp;
}

export interface ApiTokensTable {
  id: string;
  client_id: string;
  name: string;
  /** sha256 (hex) of the whole token; unique. */
  token_hash: string;
  /** The first characters of the token, for display (`pt_AbCd…`). */
  prefix: string;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export type DeviceAuthorizationStatus = 'pending' | 'approved' | 'denied' | 'consumed';

export interface DeviceAuthorizationsTable {
  /** sha256 (hex) of the device code the CLI polls with. */
  device_code_hash: string;
  /** e.g. WDJB-MJHT; unique. */
  user_code: string;
  /** Null until a Client approves or denies. */
  client_id: string | null;
  status: DeviceAuthorizationStatus;
  /** Seconds the CLI must wait between polls (grows on slow_down). */
  interval: number;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_polled_at: Timestamp | null;
  /** The API token handed out when the CLI collected it. */
  token_id: string | null;
}

export interface SshKeysTable {
  id: string;
  client_id: string;
  name: string;
  public_key: string;
  /** OpenSSH form `SHA256:<unpadded base64>`; unique across all Clients. */
  fingerprint: string;
  key_type: string;
  bits: number;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface ProjectsTable {
  id: string;
  client_id: string;
  /** DNS label; unique across all Clients. */
  name: string;
  created_at: Timestamp;
  /** Path the health check requests; null = the platform default. */
  health_check_path: string | null;
  /** Which builder builds the project ('auto' = detect). */
  builder: Generated<string>;
  /** Custom buildpack: an operator-installed buildpack's name or an https:// git URL; null = the
   * built-in builders (settings/buildpack.ts says what is accepted). */
  buildpack: string | null;
  /** 1 when instances may reach the outside world (through NAT), 0 when cut off. */
  egress_enabled: Generated<number>;
  /** Per-instance limits; null = the platform default. */
  memory_mb: number | null;
  cpu_millicores: number | null;
  max_processes: number | null;
  disk_mb: number | null;
}

export interface ConfigVarsTable {
  project_id: string;
  name: string;
  /** AES-256-GCM ciphertext + tag, base64. */
  value_ciphertext: string;
  /** GCM nonce, base64. */
  value_nonce: string;
  key_version: number;
  updated_at: Timestamp;
}

export interface DomainsTable {
  id: string;
  project_id: string;
  /** Lower-cased; unique across all projects. */
  hostname: string;
  created_at: Timestamp;
}

export type DeploymentState =
  | 'queued'
  | 'building'
  | 'releasing'
  | 'active'
  | 'failed'
  | 'superseded'
  | 'cancelled';

export type DeploymentReason = 'push' | 'config' | 'rollback' | 'scale';

export interface DeploymentsTable {
  id: string;
  project_id: string;
  /** v1, v2, … per project; unique per project. */
  number: number;
  commit_sha: string;
  ref_name: string;
  state: DeploymentState;
  reason: DeploymentReason;
  /** The config vars it runs with, encrypted as a whole (JSON, AES-256-GCM, base64). */
  config_snapshot_ciphertext: string | null;
  config_snapshot_nonce: string | null;
  config_snapshot_key_version: number | null;
  /** JSON: process type → instance count. */
  formation: string;
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  failure_reason: string | null;
  build_output: string | null;
}

export interface AuditEventsTable {
  id: string;
  /** Null when nobody was authenticated (e.g. a failed login). */
  client_id: string | null;
  /** e.g. client.signup, session.login_failed, token.create. */
  action: string;
  /** What it was done to, e.g. `token:<id>` or `project:shop`. */
  target: string;
  ip: string | null;
  at: Timestamp;
  /** JSON object; never holds a secret. */
  details: string;
}

/** Every table of the database. */
export interface DB {
  clients: ClientsTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  device_authorizations: DeviceAuthorizationsTable;
  ssh_keys: SshKeysTable;
  projects: ProjectsTable;
  config_vars: ConfigVarsTable;
  domains: DomainsTable;
  deployments: DeploymentsTable;
  audit_events: AuditEventsTable;
}
