// The shape every service's start function returns, so paastechd can start, print and stop them
// without knowing what they are.

/** One address a service serves, printed by paastechd at start-up. */
export interface Endpoint {
  /** What a person uses it for, e.g. "dashboard and API". */
  label: string;
  url: string;
}

/** A started service: `ready` resolves once every listener is bound; `stop` releases everything. */
export interface ServiceHandle {
  readonly name: string;
  readonly ready: Promise<void>;
  /** Known once `ready` has resolved (ports chosen by the OS are filled in then). */
  endpoints(): Endpoint[];
  /** Bound ports by listener name (e.g. `{ http: 8080 }`), known once `ready` has resolved. */
  ports?(): Readonly<Record<string, number>>;
  stop(): Promise<void>;
}
