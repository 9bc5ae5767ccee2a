export * from './daemon.js';
export * from './processes.js';
export * from './swarm.js';
