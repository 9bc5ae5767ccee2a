// Request and response shapes of /api/v1/ssh-keys.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString } from 'class-validator';
import type { SshKeyRow } from './ssh-keys.repository.js';

export class AddSshKeyDto {
  @ApiProperty({
    example: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx… me@laptop',
    description:
      'one OpenSSH public key line (the .pub file): ed25519, ecdsa (nistp256/384/521) or rsa ≥ 2048 bits',
  })
  @IsString()
  public_key!: string;

  @ApiPropertyOptional({ example: 'laptop', maxLength: 100, description: 'defaults to the key comment' })
  @IsOptional()
  @IsString()
  name?: string;
}

export class SshKeyDto {
  @ApiProperty({ example: '019ac5e2-7c1a-7d3e-9a51-0c2f3e4d5a6b' })
  id!: string;

  @ApiProperty({ example: 'laptop' })
  name!: string;

  @ApiProperty({
    example: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
    description: 'as ssh-keygen -lf prints it',
  })
  fingerprint!: string;

  @ApiProperty({ example: 'ssh-ed25519' })
  type!: string;

  @ApiProperty({ example: 256 })
  bits!: number;

  @ApiProperty({
    example: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx…',
    description: 'type and key data, without the comment',
  })
  public_key!: string;

  @ApiProperty({ example: '2026-11-28T13:37:00.000Z', format: 'date-time' })
  created_at!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description: 'last git access with this key',
  })
  last_used_at!: string | null;
}

export class SshKeyListDto {
  @ApiProperty({ type: [SshKeyDto] })
  ssh_keys!: SshKeyDto[];
}

/** The response form of an SSH key. */
export function mapSshKey(row: SshKeyRow): SshKeyDto {
  return {
    id: row.id,
    name: row.name,
    fingerprint: row.fingerprint,
    type: row.key_type,
    bits: row.bits,
    public_key: row.public_key,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
  };
}
