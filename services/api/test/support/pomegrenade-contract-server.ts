// A small implementation of paastech.deploy.v1.DeploymentService for the API's tests (the API may
// not import Pomegrenade): the contract — queued on create, watch replays then streams until a
// final state, NOT_FOUND for unknown deployments, FAILED_PRECONDITION when cancelling an ended one —
// with scripted deployments (the events each one goes through) instead of real builds. Served over
// a real Unix socket behind kit's serveGrpc with the internal secret.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type GrpcEndpoint, serveGrpc } from '@paastech/kit';
import { deploy, SERVICE_NAMES } from '@paastech/proto';

const S = deploy.DeploymentState;

/** One scripted event: a state, a step or a build line; `wait` pauses until `release()` is called. */
export type ScriptStep =
  | { state: deploy.DeploymentState; failure?: string }
  | { step: string }
  | { log: string; source?: string }
  | { wait: true };

/** A build that succeeds. */
export const SUCCEEDS: ScriptStep[] = [
  { state: S.DEPLOYMENT_STATE_BUILDING },
  { step: 'Building with node' },
  { log: 'added 0 packages' },
  { log: 'build done' },
  { state: S.DEPLOYMENT_STATE_RELEASING },
  { step: 'Starting web.1' },
  { state: S.DEPLOYMENT_STATE_ACTIVE },
];

/** A build that fails. */
export const BUILD_FAILS: ScriptStep[] = [
  { state: S.DEPLOYMENT_STATE_BUILDING },
  { step: 'Building with node' },
  { log: 'npm ERR! missing script: build' },
  { state: S.DEPLOYMENT_STATE_FAILED, failure: 'build failed: npm run build exited with code 1' },
];

/** What the server holds about one deployment. */
export interface ContractDeployment {
  request: deploy.CreateDeploymentRequest;
  state: deploy.DeploymentState;
  history: deploy.WatchDeploymentResponse[];
  failure?: string;
  /** False once the build is no longer kept (rollback refused); default true. */
  buildRetained?: boolean;
  /** Lets the script pass its next `wait` step (also when called before the script reaches it). */
  release: () => void;
  /** Releases given before the script reached a `wait` step. */
  releases: number;
  /** Resolves the `wait` step the script is paused at. */
  resume?: () => void;
  wake: Set<() => void>;
}

export interface PomegrenadeContractServer {
  address: string;
  secret: string;
  /** Every call received, as `method:projectId[:number]`. */
  calls: string[];
  /** Deployments by `projectId#number`. */
  deployments: Map<string, ContractDeployment>;
  /** The script the next CreateDeployment runs (default SUCCEEDS). */
  script: ScriptStep[];
  /** Pause between scripted events. */
  stepMs: number;
  /** Log lines StreamLogs serves. */
  logs: deploy.LogLine[];
  /** Formation ScaleProject last set, per project. */
  formations: Map<string, Record<string, number>>;
  /** Every UpdateProjectRouting request, in order. */
  routings: deploy.UpdateProjectRoutingRequest[];
  /** The status GetProjectStatus answers. */
  status: deploy.GetProjectStatusResponse;
  /** Lets a deployment paused at a `wait` step continue. */
  release(projectId: string, number: number): void;
  /** Adds a log line (followers of StreamLogs get it live). */
  addLog(line: deploy.LogLine): void;
  /** Forgets every deployment (as a Pomegrenade that lost its state). */
  forget(): void;
  /** Stops serving (the socket goes away); `start()` serves again on the same address. */
  stop(): Promise<void>;
  /** Stops at once, cutting open streams (as a crash does). */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the temp dir. */
  close(): Promise<void>;
}

const key = (projectId: string, number: number) => `${projectId}#${number}`;
const FINAL = new Set([
  S.DEPLOYMENT_STATE_ACTIVE,
  S.DEPLOYMENT_STATE_FAILED,
  S.DEPLOYMENT_STATE_CANCELLED,
  S.DEPLOYMENT_STATE_SUPERSEDED,
]);

/** The Deployment message of a held deployment. */
function message(d: ContractDeployment): deploy.Deployment {
  return {
    projectId: d.request.projectId,
    number: d.request.deploymentNumber,
    commitSha: d.request.commitSha,
    state: d.state,
    failure: d.failure
      ? { reason: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_BUILD_FAILED, message: d.failure }
      : undefined,
    createdAt: new Date(),
    stateChangedAt: new Date(),
    buildRetained: d.buildRetained ?? true,
    buildSizeBytes: 0,
    builder: 'node',
    processTypes: ['web'],
  };
}

/** Answers a unary call from an async function, turning a thrown status into the call's error. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: Partial<grpc.ServiceError>) => callback(err),
    );
  };
}

/** Starts the contract server on `address` (default: a fresh Unix socket), requiring `secret`. */
export async function startPomegrenadeContractServer(
  options: { address?: string; secret?: string } = {},
): Promise<PomegrenadeContractServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'paastech-pom-contract-'));
  const address = options.address ?? `unix:${path.join(root, 'pomegrenade.sock')}`;
  const secret = options.secret ?? 'contract-server-secret-0123456789';
  let endpoint: GrpcEndpoint | undefined;
  const logFollowers = new Set<(line: deploy.LogLine) => void>();
  const state: PomegrenadeContractServer = {
    address,
    secret,
    calls: [],
    deployments: new Map(),
    script: SUCCEEDS,
    stepMs: 5,
    logs: [],
    formations: new Map(),
    routings: [],
    status: {
      formation: {},
      instances: [],
      stopped: false,
      diskUsedBytes: 0,
      traffic: {
        countedSince: new Date(),
        requestCount: 0,
        serverErrorCount: 0,
        unavailableCount: 0,
        bytesIn: 0,
        bytesOut: 0,
      },
    },
    release: (projectId, number) => state.deployments.get(key(projectId, number))?.release(),
    addLog: (line) => {
      state.logs.push(line);
      for (const f of logFollowers) f(line);
    },
    forget: () => state.deployments.clear(),
    stop: async () => {
      await endpoint?.stop();
      endpoint = undefined;
    },
    crash: async () => {
      endpoint?.server.forceShutdown();
      await state.stop();
    },
    start: async () => {
      if (endpoint) return;
      endpoint = await serveGrpc({
        address,
        secret,
        services: [SERVICE_NAMES.deploy],
        register: (server) => server.addService(deploy.DeploymentServiceService, impl),
      });
    },
    close: async () => {
      await state.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };

  /** Appends an event to a deployment's history and wakes its watchers. */
  const emit = (d: ContractDeployment, event: deploy.WatchDeploymentResponse['event']) => {
    if (FINAL.has(d.state)) return;
    if (event?.$case === 'stateChange') {
      d.state = event.value.state;
      d.failure = event.value.failure?.message;
    }
    d.history.push({ event });
    for (const wake of d.wake) wake();
  };

  /** Runs a deployment's script. */
  const run = async (d: ContractDeployment, script: ScriptStep[]) => {
    for (const s of script) {
      if (FINAL.has(d.state)) return;
      await new Promise((r) => setTimeout(r, state.stepMs));
      if ('wait' in s) {
        if (d.releases > 0) d.releases--;
        else
          await new Promise<void>((resolve) => {
            d.resume = resolve;
          });
      } else if ('state' in s) {
        const failure = s.failure
          ? {
              reason: deploy.DeploymentFailureReason.DEPLOYMENT_FAILURE_REASON_BUILD_FAILED,
              message: s.failure,
            }
          : undefined;
        emit(d, { $case: 'stateChange', value: { state: s.state, time: new Date(), failure } });
      } else if ('step' in s) {
        emit(d, { $case: 'step', value: { title: s.step, time: new Date() } });
      } else {
        const line = {
          time: new Date(),
          source: s.source ?? 'build',
          text: s.log,
          deploymentNumber: d.request.deploymentNumber,
        };
        emit(d, { $case: 'logLine', value: line });
      }
    }
  };

  /** The held deployment, or NOT_FOUND. */
  const find = (projectId: string, number: number): ContractDeployment => {
    const d = state.deployments.get(key(projectId, number));
    if (!d) throw { code: grpc.status.NOT_FOUND, details: `deployment v${number} not found` };
    return d;
  };

  const impl: deploy.DeploymentServiceServer = {
    createDeployment: unary(async (req: deploy.CreateDeploymentRequest) => {
      state.calls.push(`create:${req.projectId}:${req.deploymentNumber}`);
      const existing = state.deployments.get(key(req.projectId, req.deploymentNumber));
      if (existing) return { deployment: message(existing) };
      const d: ContractDeployment = {
        request: req,
        state: S.DEPLOYMENT_STATE_QUEUED,
        history: [],
        releases: 0,
        release: () => {
          if (!d.resume) return void d.releases++;
          const resume = d.resume;
          d.resume = undefined;
          resume();
        },
        wake: new Set(),
      };
      d.history.push({
        event: { $case: 'stateChange', value: { state: S.DEPLOYMENT_STATE_QUEUED, time: new Date() } },
      });
      state.deployments.set(key(req.projectId, req.deploymentNumber), d);
      void run(d, state.script);
      return { deployment: message(d) };
    }),
    getDeployment: unary(async (req: deploy.GetDeploymentRequest) => {
      state.calls.push(`get:${req.projectId}:${req.deploymentNumber}`);
      return { deployment: message(find(req.projectId, req.deploymentNumber)) };
    }),
    listDeployments: unary(async (req: deploy.ListDeploymentsRequest) => ({
      deployments: [...state.deployments.values()]
        .filter((d) => d.request.projectId === req.projectId)
        .map(message),
    })),
    watchDeployment: (call) => {
      const req = call.request;
      state.calls.push(`watch:${req.projectId}:${req.deploymentNumber}`);
      const d = state.deployments.get(key(req.projectId, req.deploymentNumber));
      if (!d) {
        // emit('error'), not destroy(): grpc-js sends no status for a destroyed server stream.
        call.emit('error', { code: grpc.status.NOT_FOUND, details: 'deployment not found' });
        return;
      }
      let sent = 0;
      const pump = () => {
        while (sent < d.history.length) call.write(d.history[sent++]!);
        if (FINAL.has(d.state)) {
          d.wake.delete(pump);
          call.end();
        }
      };
      d.wake.add(pump);
      call.on('cancelled', () => d.wake.delete(pump));
      pump();
    },
    cancelDeployment: unary(async (req: deploy.CancelDeploymentRequest) => {
      state.calls.push(`cancel:${req.projectId}:${req.deploymentNumber}`);
      const d = find(req.projectId, req.deploymentNumber);
      if (FINAL.has(d.state))
        throw { code: grpc.status.FAILED_PRECONDITION, details: 'deployment has ended' };
      emit(d, { $case: 'stateChange', value: { state: S.DEPLOYMENT_STATE_CANCELLED, time: new Date() } });
      d.release();
      return { deployment: message(d) };
    }),
    activateDeployment: unary(async (req: deploy.ActivateDeploymentRequest) => {
      state.calls.push(`activate:${req.projectId}:${req.deploymentNumber}`);
      const d = find(req.projectId, req.deploymentNumber);
      d.state = S.DEPLOYMENT_STATE_RELEASING;
      return { deployment: message(d) };
    }),
    scaleProject: unary(async (req: deploy.ScaleProjectRequest) => {
      state.calls.push(`scale:${req.projectId}`);
      const formation = { ...state.formations.get(req.projectId), ...req.formation };
      state.formations.set(req.projectId, formation);
      return { formation };
    }),
    restartProject: unary(async (req: deploy.RestartProjectRequest) => {
      state.calls.push(`restart:${req.projectId}:${req.processType}`);
      return {};
    }),
    stopProject: unary(async (req: deploy.StopProjectRequest) => {
      state.calls.push(`stop:${req.projectId}`);
      return {};
    }),
    startProject: unary(async (req: deploy.StartProjectRequest) => {
      state.calls.push(`start:${req.projectId}`);
      return {};
    }),
    updateProjectRouting: unary(async (req: deploy.UpdateProjectRoutingRequest) => {
      state.calls.push(`routing:${req.projectId}`);
      state.routings.push(req);
      return {};
    }),
    deleteProject: unary(async (req: deploy.DeleteProjectRequest) => {
      state.calls.push(`delete:${req.projectId}`);
      return { freedBytes: 0 };
    }),
    streamLogs: (call) => {
      const req = call.request;
      state.calls.push(`logs:${req.projectId}`);
      const matches = (l: deploy.LogLine) =>
        req.sources.length === 0 || req.sources.some((s) => l.source === s || l.source.startsWith(`${s}.`));
      const past = state.logs.filter(matches).slice(-Math.max(req.tailLines, 0) || state.logs.length + 1);
      call.write({ lines: req.tailLines === 0 ? [] : past });
      if (!req.follow) {
        call.end();
        return;
      }
      const follower = (line: deploy.LogLine) => {
        if (matches(line)) call.write({ lines: [line] });
      };
      logFollowers.add(follower);
      call.on('cancelled', () => logFollowers.delete(follower));
    },
    getProjectStatus: unary(async (req: deploy.GetProjectStatusRequest) => {
      state.calls.push(`status:${req.projectId}`);
      return state.status;
    }),
  };
  await state.start();
  return state;
}
