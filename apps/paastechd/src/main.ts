#!/usr/bin/env node
// paastechd: the PaaSTech server. `paastechd all` runs every service in one process (what
// `npm start` runs); `paastechd api|git|pomegrenade|router` runs one.
import { ConfigError, createLogger } from '@paastech/kit';
import { type DaemonConfig, ROLES, type Role, readDaemonConfig } from './config.js';
import { type Daemon, startDaemon } from './daemon.js';

const USAGE = `usage: paastechd <${ROLES.join('|')}>

  all           every service in one process (SQLite, local runtime, data under PAASTECH_DATA_DIR)
  api           the Central API and the dashboard
  git           the git controller (smart HTTP and SSH)
  pomegrenade   builds, deployments and instances
  router        the HTTP edge in front of every application

Configuration is read from PAASTECH_* environment variables; see the README.`;

/** Parses argv into a role, or exits 2 with the usage. */
function parseRole(argv: string[]): Role {
  const [role, ...rest] = argv;
  if (role === '-h' || role === '--help') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!role || rest.length > 0 || !(ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`paastechd: ${role ? `unknown role "${role}"` : 'missing role'}\n\n${USAGE}\n`);
    process.exit(2);
  }
  return role as Role;
}

async function main(): Promise<void> {
  const role = parseRole(process.argv.slice(2));
  let config: DaemonConfig;
  try {
    config = readDaemonConfig(role);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`paastechd: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const common = config.api ?? config.git ?? config.pomegrenade ?? config.router;
  const logger = createLogger('paastechd', {
    level: common?.log.level ?? 'info',
    format: common?.log.format ?? 'auto',
    destination: process.stderr,
  });
  // Signal handlers go in first: a signal during start-up stops what has started, then exits.
  let daemon: Daemon | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopRequested) return;
    stopRequested = signal;
    if (!daemon) return; // start-up finishes first, then stops (see below)
    process.stdout.write(`paastechd: ${signal} received, stopping\n`);
    const force = setTimeout(() => {
      process.stderr.write('paastechd: services did not stop within 20 s, exiting\n');
      process.exit(1);
    }, 20_000);
    force.unref();
    daemon.stop().then(
      () => {
        process.stdout.write('paastechd: stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    daemon = await startDaemon(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'start-up failed');
    process.stderr.write(`paastechd: start-up failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (stopRequested) {
    const signal = stopRequested;
    stopRequested = undefined;
    shutdown(signal);
    return;
  }

  const width = Math.max(...daemon.services.flatMap((s) => s.endpoints().map((e) => e.label.length)));
  for (const s of daemon.services) {
    for (const e of s.endpoints()) process.stdout.write(`paastechd: ${e.label.padEnd(width)}  ${e.url}\n`);
  }
  process.stdout.write(`paastechd: ready (role ${role}, data in ${common?.dataDir})\n`);
}

void main();
