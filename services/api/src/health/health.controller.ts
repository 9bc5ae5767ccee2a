import { Controller, Get } from '@nestjs/common';

/** Liveness of the API process. */
@Controller()
export class HealthController {
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
