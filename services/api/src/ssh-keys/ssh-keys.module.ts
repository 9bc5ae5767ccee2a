// SSH keys: REST routes, service and repository.
import { Module } from '@nestjs/common';
import { SshKeysController } from './ssh-keys.controller.js';
import { SshKeysRepository } from './ssh-keys.repository.js';
import { SshKeysService } from './ssh-keys.service.js';

@Module({
  controllers: [SshKeysController],
  providers: [SshKeysRepository, SshKeysService],
})
export class SshKeysModule {}
