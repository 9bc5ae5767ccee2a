// Request and response shapes of API tokens.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';

export class CreateTokenDto {
  @IsString({ message: 'name must be a string' })
  @MinLength(1, { message: 'name must be 1 to 100 characters' })
  @MaxLength(100, { message: 'name must be 1 to 100 characters' })
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  @ApiProperty({ example: 'laptop CLI', minLength: 1, maxLength: 100 })
  name!: string;

  @IsOptional()
  @IsInt({ message: 'expires_in_days must be a whole number of days' })
  @Min(1, { message: 'expires_in_days must be between 1 and 3650' })
  @Max(3650, { message: 'expires_in_days must be between 1 and 3650' })
  @ApiPropertyOptional({ example: 90, minimum: 1, maximum: 3650, description: 'unset = never expires' })
  expires_in_days?: number;
}

export class TokenDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'laptop CLI' }) name!: string;
  @ApiProperty({ example: 'pt_8fK2mQ1', description: 'the first characters of the token, to recognise it' })
  prefix!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty({ type: String, nullable: true }) expires_at!: string | null;
  @ApiProperty({ type: String, nullable: true }) last_used_at!: string | null;
}

export class CreatedTokenDto extends TokenDto {
  @ApiProperty({ example: 'pt_8fK2mQ1…', description: 'the token itself: shown once, never again' })
  token!: string;
}

export class TokenIdParams {
  @IsString()
  @MaxLength(64, { message: 'id must be at most 64 characters' })
  @ApiProperty()
  id!: string;
}
