// Request and response shapes of /api/v1/projects/:name/config.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsObject, IsOptional } from 'class-validator';

export class ConfigChangeDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 32768 },
    description:
      'vars to set: names [A-Z_][A-Z0-9_]* up to 255 chars, not PORT or PAASTECH_*; values up to 32 KiB of UTF-8',
    example: { DATABASE_URL: 'postgres://db/shop', LOG_LEVEL: 'info' },
  })
  @IsOptional()
  @IsObject()
  set?: Record<string, unknown>;

  @ApiPropertyOptional({ type: [String], description: 'names of vars to remove', example: ['OLD_FLAG'] })
  @IsOptional()
  @IsArray()
  unset?: unknown[];
}

export class ConfigVarsDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'every config var of the project, name → value (decrypted)',
    example: { DATABASE_URL: 'postgres://db/shop' },
  })
  vars!: Record<string, string>;
}
