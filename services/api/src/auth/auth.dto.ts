// Request and response shapes of sign-up, login and the current account.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

const EMAIL_RULE =
  'email must be an e-mail address such as ada@example.com (ASCII only, at most 254 characters)';

/** E-mail rules shared by sign-up and login. */
function EmailField(): PropertyDecorator {
  return (target, key) => {
    IsString({ message: 'email must be a string' })(target, key);
    MaxLength(254, { message: EMAIL_RULE })(target, key);
    Matches(/^[\x21-\x7e]+$/, { message: EMAIL_RULE })(target, key);
    IsEmail({ allow_utf8_local_part: false, allow_ip_domain: false }, { message: EMAIL_RULE })(target, key);
    ApiProperty({ example: 'ada@example.com', maxLength: 254 })(target, key);
  };
}

export class SignupDto {
  @EmailField() email!: string;

  @IsString({ message: 'password must be a string' })
  @ApiProperty({ minLength: 10, maxLength: 256, description: 'not one of the most common passwords' })
  password!: string;
}

export class LoginDto {
  @EmailField() email!: string;

  @IsString({ message: 'password must be a string' })
  @MaxLength(1024, { message: 'password must be at most 1024 characters' })
  @ApiProperty()
  password!: string;

  @IsOptional()
  @IsString({ message: 'token_name must be a string' })
  @MinLength(1, { message: 'token_name must be 1 to 100 characters' })
  @MaxLength(100, { message: 'token_name must be 1 to 100 characters' })
  @ApiPropertyOptional({
    description:
      'for scripts and the CLI: return a new API token with this name instead of setting a session cookie',
    example: 'deploy script',
  })
  token_name?: string;
}

export class AccountDto {
  @ApiProperty({ example: '01936b2e-7d1c-7c3a-9f3e-2b4d5e6f7a8b' }) id!: string;
  @ApiProperty({ example: 'ada@example.com' }) email!: string;
  @ApiProperty({ example: '2026-11-28T13:37:00.000Z' }) created_at!: string;
}

export class LoginResponseDto {
  @ApiProperty({ type: AccountDto }) account!: AccountDto;
  @ApiPropertyOptional({
    description: 'the API token (shown once), when token_name was given',
    example: 'pt_…',
  })
  token?: string;
}
