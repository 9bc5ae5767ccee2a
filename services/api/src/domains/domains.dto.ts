// Request and response shapes of /api/v1/projects/:name/domains.
import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import type { DomainRow } from './domains.repository.js';

export class AddDomainDto {
  @ApiProperty({
    example: 'www.example.com',
    maxLength: 253,
    description:
      'RFC 1123 hostname (lower-cased; a trailing dot is dropped); no IP addresses, no wildcards, not under the apps domain except <project>.<apps domain>',
  })
  @IsString()
  hostname!: string;
}

export class DomainDto {
  @ApiProperty({ example: 'www.example.com' })
  hostname!: string;

  @ApiProperty({ example: '2026-11-28T13:37:00.000Z', format: 'date-time' })
  created_at!: string;
}

export class DomainListDto {
  @ApiProperty({ type: [DomainDto] })
  domains!: DomainDto[];
}

/** The response form of a domain. */
export function mapDomain(row: DomainRow): DomainDto {
  return { hostname: row.hostname, created_at: row.created_at };
}
