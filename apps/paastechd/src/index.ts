export { type DaemonConfig, ROLES, type Role, readDaemonConfig } from './config.js';
export { type Daemon, startDaemon } from './daemon.js';
