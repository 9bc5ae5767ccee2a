// The HTTP transport's exception filter: every error a route throws leaves as problem+json.
import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Logger } from '@paastech/kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toProblem } from './problem.js';

/** Writes the problem for `err` to `reply`; logs unexpected errors (never the request body). */
export function sendProblem(err: unknown, req: FastifyRequest, reply: FastifyReply, logger: Logger): void {
  const { problem, headers, unexpected } = toProblem(err, req.method, req.url);
  if (unexpected) logger.error({ err, method: req.method, url: req.url.split('?')[0] }, 'request failed');
  else if (problem.status === 503)
    logger.warn({ err: String(err), url: req.url.split('?')[0] }, problem.detail);
  problem.instance = req.url.split('?')[0];
  reply
    .status(problem.status)
    .headers(headers)
    .type('application/problem+json')
    .send(JSON.stringify(problem));
}

/** Catches everything thrown by controllers, guards and pipes. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  /** Answers the request that failed with the problem for `err`. */
  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(err, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}
