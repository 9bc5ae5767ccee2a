// HTTP plumbing of the Fastify instance under Nest: the strict JSON body parser with its size limit,
// the validation pipe, and the problem+json filter (Nest routes Fastify's own errors — body too
// large, bad media type — through it as well).
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from '@paastech/kit';
import type { FastifyInstance } from 'fastify';
import { ProblemFilter } from './problem.filter.js';
import { BODY_LIMIT_BYTES } from './problem.js';
import { parseStrictJson } from './strict-json.js';
import { StrictValidationPipe } from './validation.js';

/** Makes the strict JSON parser the only body parser (other media types get 415). */
function registerJsonParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_req, body, done) => {
      if (body === '') return done(null, undefined);
      try {
        done(null, parseStrictJson(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );
}

/** Applies the API's HTTP conventions to `app` before it listens. */
export function configureHttp(app: NestFastifyApplication, logger: Logger): void {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  registerJsonParser(fastify);
  app.useGlobalPipes(new StrictValidationPipe());
  app.useGlobalFilters(new ProblemFilter(logger));
}
