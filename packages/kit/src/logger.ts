// Structured logging with pino: JSON lines in production, pretty output on a terminal.
// Secrets never reach a log line: the redaction list below censors them wherever they appear.
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { CommonConfig } from './config.js';

export type { Logger } from 'pino';

/** Field names whose values are always censored, at the top level and one level down. */
const SECRET_KEYS = [
  'password',
  'token',
  'secret',
  'authorization',
  'cookie',
  'apiToken',
  'accessToken',
  'deviceCode',
  'privateKey',
  'masterKey',
  'configVars',
  'env',
  'value',
];

const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `req.headers.${k}`]);

export interface LoggerOptions {
  level: CommonConfig['log']['level'];
  format: CommonConfig['log']['format'];
  /** Where lines go; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/** Creates the root logger of a process; `name` is the service or role. */
export function createLogger(name: string, options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const usePretty =
    options.format === 'pretty' ||
    (options.format === 'auto' && (destination as NodeJS.WriteStream).isTTY === true);
  const base = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: name },
  };
  if (usePretty) {
    return pino(
      base,
      pretty({
        destination,
        sync: true,
        colorize: true,
        ignore: 'pid,hostname,service',
        messageFormat: '[{service}] {msg}',
        hideObject: false,
      }),
    );
  }
  return pino(base, destination);
}
