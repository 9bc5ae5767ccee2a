// Request and response shapes of the device authorization flow (RFC 8628 member names).
import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';

export class DeviceStartDto {
  @ApiProperty({ description: 'secret the CLI polls with; never shown to the person' }) device_code!: string;
  @ApiProperty({ example: 'WDJB-MJHT' }) user_code!: string;
  @ApiProperty({ example: 'http://127.0.0.1:3000/device' }) verification_uri!: string;
  @ApiProperty({ example: 'http://127.0.0.1:3000/device?user_code=WDJB-MJHT' })
  verification_uri_complete!: string;
  @ApiProperty({ example: 600 }) expires_in!: number;
  @ApiProperty({ example: 5, description: 'seconds to wait between polls' }) interval!: number;
}

export class DeviceTokenRequestDto {
  @IsString({ message: 'device_code must be a string' })
  @MaxLength(128, { message: 'device_code must be at most 128 characters' })
  @ApiProperty()
  device_code!: string;
}

export class DeviceTokenDto {
  @ApiProperty({ example: 'pt_…', description: 'an API token, handed out once' }) access_token!: string;
  @ApiProperty({ example: 'bearer', enum: ['bearer'] }) token_type!: 'bearer';
}

export class UserCodeDto {
  @IsString({ message: 'user_code must be a string' })
  @MaxLength(20, { message: 'user_code must be at most 20 characters' })
  @ApiProperty({ example: 'WDJB-MJHT' })
  user_code!: string;
}

export class DeviceInfoDto {
  @ApiProperty({ example: 'WDJB-MJHT' }) user_code!: string;
  @ApiProperty({ enum: ['pending', 'approved', 'denied', 'consumed', 'expired'] }) status!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() expires_at!: string;
}
