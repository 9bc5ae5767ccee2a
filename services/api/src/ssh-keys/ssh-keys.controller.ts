// /api/v1/ssh-keys: thin transport over SshKeysService.
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Auth, type AuthContext, type AuthedRequest } from '../auth/auth-context.js';
import { clientIp } from '../http/request.js';
import { ApiProblems } from '../openapi/problem.dto.js';
import { AddSshKeyDto, SshKeyDto, SshKeyListDto } from './ssh-keys.dto.js';
import { SshKeysService } from './ssh-keys.service.js';

@ApiTags('ssh keys')
@Controller('ssh-keys')
export class SshKeysController {
  constructor(private readonly keys: SshKeysService) {}

  @Get()
  @ApiOperation({ summary: "List the Client's SSH public keys" })
  @ApiOkResponse({ type: SshKeyListDto })
  @ApiProblems(401, 503)
  async list(@Auth() auth: AuthContext): Promise<SshKeyListDto> {
    return { ssh_keys: await this.keys.list(auth.clientId) };
  }

  @Post()
  @ApiOperation({ summary: 'Add an SSH public key for git over SSH (a key belongs to one Client only)' })
  @ApiCreatedResponse({ type: SshKeyDto })
  @ApiProblems(400, 401, 403, 409, 503)
  add(@Auth() auth: AuthContext, @Body() dto: AddSshKeyDto, @Req() req: AuthedRequest): Promise<SshKeyDto> {
    return this.keys.add(auth.clientId, dto.public_key, dto.name, clientIp(req));
  }

  @Delete(':key')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove an SSH key by id or by fingerprint' })
  @ApiParam({ name: 'key', description: 'the key id, or its fingerprint (SHA256:…, URL-encoded)' })
  @ApiNoContentResponse({ description: 'removed' })
  @ApiProblems(401, 403, 404, 503)
  async remove(
    @Auth() auth: AuthContext,
    @Param('key') key: string,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    await this.keys.remove(auth.clientId, key, clientIp(req));
  }
}
