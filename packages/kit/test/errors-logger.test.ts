import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  ExecError,
  InvalidArgumentError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
} from '../src/errors.js';
import { run } from '../src/exec.js';
import { fromGrpcError, toGrpcError } from '../src/grpc.js';
import { createLogger } from '../src/logger.js';

describe('domain errors ↔ gRPC status', () => {
  it.each([
    [new NotFoundError('project "x" not found'), grpc.status.NOT_FOUND, NotFoundError],
    [new ConflictError('name taken'), grpc.status.ALREADY_EXISTS, ConflictError],
    [new InvalidArgumentError('bad'), grpc.status.INVALID_ARGUMENT, InvalidArgumentError],
    [new UnavailableError('db down'), grpc.status.UNAVAILABLE, UnavailableError],
  ])('%s round-trips through status %i', (err, code, cls) => {
    const wire = toGrpcError(err);
    expect(wire.code).toBe(code);
    expect(wire.details).toBe(err.message);
    expect(fromGrpcError(wire)).toBeInstanceOf(cls);
  });

  it('never leaks the message of an unexpected error', () => {
    expect(toGrpcError(new Error('password=hunter2 at db.ts:12'))).toEqual({
      code: grpc.status.INTERNAL,
      details: 'internal error',
    });
  });

  it('keeps the cause and retry hint', () => {
    const cause = new Error('root');
    const e = new RateLimitedError('too many attempts', 30, { cause });
    expect(e.cause).toBe(cause);
    expect(e.retryAfterSeconds).toBe(30);
    expect(e.name).toBe('RateLimitedError');
  });
});

describe('run', () => {
  it('passes arguments as data, never through a shell', async () => {
    const r = await run('printf', ['%s', '$(id); echo pwned']);
    expect(r.stdout).toBe('$(id); echo pwned');
  });

  it('fails with ExecError carrying the command, exit code and stderr tail', async () => {
    const err = await run('sh', ['-c', 'echo oops >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    const e = err as ExecError;
    expect(e.exitCode).toBe(3);
    expect(e.stderrTail).toContain('oops');
    expect(e.message).toBe('command "sh -c" exited with code 3: oops');
  });

  it('reports a missing binary as ExecError', async () => {
    const err = await run('/nonexistent/bin', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).stderrTail).toContain('ENOENT');
  });
});

describe('logger', () => {
  it('writes JSON lines and censors secrets wherever they appear', () => {
    const sink = new PassThrough();
    let out = '';
    sink.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const log = createLogger('test', { level: 'info', format: 'json', destination: sink });
    log.info(
      { password: 'hunter2', token: 'pt_abc', req: { headers: { authorization: 'Bearer x' } } },
      'hello',
    );
    log.info({ config: { value: 's3cret' }, env: { API_KEY: 'k' } }, 'set');
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]!.msg).toBe('hello');
    expect(lines[0]!.service).toBe('test');
    expect(out).not.toMatch(/hunter2|pt_abc|Bearer x|s3cret|"k"/);
    expect(out).toContain('[redacted]');
  });
});
