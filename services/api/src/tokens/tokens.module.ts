// API token routes (TokensService itself is global, from CoreModule: the AuthGuard needs it).
import { Module } from '@nestjs/common';
import { TokensController } from './tokens.controller.js';

@Module({ controllers: [TokensController] })
export class TokensModule {}
