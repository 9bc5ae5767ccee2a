// Liveness (/healthz: the process answers) and readiness (/readyz: the database answers too).
import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { UnavailableError } from '@paastech/kit';
import { Public } from '../auth/auth-context.js';
import type { Database } from '../db/database.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { DATABASE } from '../providers.js';

/** How long /readyz waits for the database before saying it is unreachable. */
const READY_TIMEOUT_MS = 1000;

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the API process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: the database answers within 1 s' })
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'sqlite' } } })
  @ApiProblems(503)
  async readyz(): Promise<{ status: 'ok'; database: string }> {
    try {
      await this.database.ping(READY_TIMEOUT_MS);
    } catch (err) {
      throw new UnavailableError(`database unreachable: ${(err as Error).message}`, { cause: err });
    }
    return { status: 'ok', database: this.database.dialect };
  }
}
