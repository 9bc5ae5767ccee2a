// Provides the SecretBox (AES-256-GCM under the master key) to every module that stores secrets.
import { Global, Module } from '@nestjs/common';
import type { ApiConfig } from '../config.js';
import { API_CONFIG } from '../providers.js';
import { resolveMasterKey, SecretBox } from './secret-box.js';

export const SECRET_BOX = Symbol('SECRET_BOX');

@Global()
@Module({
  providers: [
    {
      provide: SECRET_BOX,
      inject: [API_CONFIG],
      useFactory: (config: ApiConfig) => new SecretBox(resolveMasterKey(config)),
    },
  ],
  exports: [SECRET_BOX],
})
export class CryptoModule {}
