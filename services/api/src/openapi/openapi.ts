// The OpenAPI 3.1 document, generated from the controllers and DTOs at start-up, served at
// /api/openapi.json, with Swagger UI at /api/docs from the locally installed swagger-ui-dist
// (nothing is loaded from the internet).
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

export const SESSION_COOKIE_SCHEME = 'session';
export const BEARER_SCHEME = 'bearer';

/** Builds the OpenAPI document of `app`. */
export function buildOpenApi(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('PaaSTech API')
    .setDescription(
      'REST API of PaaSTech, the self-hosted git-push-to-deploy platform. Errors are RFC 9457 problem+json. ' +
        'Authenticate with the session cookie (dashboard; state-changing requests need a same-origin Origin header) ' +
        'or `Authorization: Bearer <api token>` (CLI, scripts).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API token pt_…' }, BEARER_SCHEME)
    .addCookieAuth('paastech_session', { type: 'apiKey', in: 'cookie' }, SESSION_COOKIE_SCHEME)
    .addSecurityRequirements(BEARER_SCHEME)
    .addSecurityRequirements(SESSION_COOKIE_SCHEME)
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Serves the document and the docs page. */
export function setupOpenApi(app: NestFastifyApplication): void {
  const document = buildOpenApi(app);
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/openapi.json',
    yamlDocumentUrl: 'api/openapi.yaml',
    customSiteTitle: 'PaaSTech API',
  });
}
