// gRPC transport of paastech.git.v1.GitService: validates each request, calls Repositories, and maps
// domain errors to statuses through kit's one gRPC mapper.
import type * as grpc from '@grpc/grpc-js';
import { toGrpcError } from '@paastech/kit';
import { git as gitv1 } from '@paastech/proto';
import { archiveNotFound, type Repositories } from './repositories.js';

const ARCHIVE_CHUNK = 64 * 1024;

/** Base URLs the controller serves, known once its listeners are bound. */
export type EndpointSource = () => { httpBaseUrl: string; sshBaseUrl: string };

/** Adapts an async handler to grpc-js's callback form, mapping thrown errors. */
function unary<Req, Res>(handler: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toGrpcError(err) as grpc.ServiceError),
    );
  };
}

/** The GitService implementation over `repos`. */
export function gitServiceImpl(repos: Repositories, endpoints: EndpointSource): gitv1.GitServiceServer {
  return {
    createRepository: unary(async (req: gitv1.CreateRepositoryRequest) => {
      await repos.create(req.projectId, req.defaultBranch);
      return {};
    }),
    deleteRepository: unary(async (req: gitv1.DeleteRepositoryRequest) => repos.delete(req.projectId)),
    listRefs: unary(async (req: gitv1.ListRefsRequest) => repos.listRefs(req.projectId, req.prefix)),
    getRepositoryInfo: unary(async (req: gitv1.GetRepositoryInfoRequest) => repos.info(req.projectId)),
    getGitEndpoints: unary(async () => endpoints()),
    getArchive: (call) => {
      streamArchive(repos, call).catch((err: unknown) => call.emit('error', toGrpcError(err)));
    },
  };
}

/** Streams `git archive` of the requested commit in chunks of at most 64 KiB, honouring backpressure. */
async function streamArchive(
  repos: Repositories,
  call: grpc.ServerWritableStream<gitv1.GetArchiveRequest, gitv1.GetArchiveResponse>,
): Promise<void> {
  const req = call.request;
  const format = req.format === gitv1.ArchiveFormat.ARCHIVE_FORMAT_TAR_GZIP ? 'tar.gz' : 'tar';
  const child = await repos.archive(req.projectId, req.commitSha, format, req.quarantine);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  });
  call.on('cancelled', () => child.kill('SIGTERM'));
  const stdout = child.stdout!;
  let streamed = false;
  stdout.on('data', (b: Buffer) => {
    streamed = true;
    for (let i = 0; i < b.length; i += ARCHIVE_CHUNK) {
      if (!call.write({ data: b.subarray(i, i + ARCHIVE_CHUNK) })) {
        stdout.pause();
        call.once('drain', () => stdout.resume());
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) {
    const missing = streamed ? undefined : archiveNotFound(req.projectId, req.commitSha, stderr);
    throw missing ?? new Error(`git archive failed (${code}): ${stderr.trim()}`);
  }
  call.end();
}
