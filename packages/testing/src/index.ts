export * from './daemon.js';
export * from './processes.js';
