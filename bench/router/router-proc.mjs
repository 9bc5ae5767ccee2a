#!/usr/bin/env node
// Child process of bench/router/run.mjs: a paastech.routing.v1 contract server and a router (data
// plane from PAASTECH_ROUTER_DATAPLANE) in one process. The parent sets the upstreams of the one
// benchmarked route over IPC ({ upstreams: [...] }); it prints "ready <port>" when serving.
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, serveGrpc } from '@paastech/kit';
import { routing, SERVICE_NAMES } from '@paastech/proto';
import { readRouterConfig, startRouter } from '@paastech/router';

const dataDir = process.env.PAASTECH_DATA_DIR;
const secret = 'bench-router-secret-0123456789';
const address = `unix:${path.join(dataDir, 'run', 'pomegrenade.sock')}`;
const streams = new Set();
let upstreams = JSON.parse(process.env.BENCH_UPSTREAMS ?? '[]');

/** The one route the benchmark uses. */
const snapshot = () => ({
  update: {
    $case: 'snapshot',
    value: {
      routes: [
        {
          projectId: 'bench',
          projectName: 'bench',
          hostnames: ['bench.apps.test'],
          upstreamAddresses: upstreams,
          unavailableReason: 0,
          unavailableMessage: '',
          httpsRedirect: false,
          deploymentNumber: 1,
        },
      ],
    },
  },
});

const grpcServer = await serveGrpc({
  address,
  secret,
  services: [SERVICE_NAMES.routing],
  register: (server) =>
    server.addService(routing.RoutingServiceService, {
      watchRoutes: (call) => {
        streams.add(call);
        call.on('cancelled', () => streams.delete(call));
        call.write(snapshot());
      },
      reportRouterStats: (_call, cb) => cb(null, {}),
    }),
});

const config = readRouterConfig({ ...process.env, PAASTECH_INTERNAL_SECRET: secret });
const logger = createLogger('router', {
  level: 'info',
  format: 'json',
  destination: fs.createWriteStream(path.join(dataDir, 'router.log')),
});
const router = startRouter(config, logger);
await router.ready;
const port = Number(new URL(router.endpoints()[0].url.replace('<project>.', 'x.')).port);

process.on('message', (msg) => {
  upstreams = msg.upstreams;
  for (const s of streams) s.write(snapshot());
  process.send?.({ switched: true });
});
process.on('SIGTERM', async () => {
  await router.stop();
  await grpcServer.stop();
  process.exit(0);
});
process.stdout.write(`ready ${port}\n`);
