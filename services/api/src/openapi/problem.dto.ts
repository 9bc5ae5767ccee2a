// OpenAPI description of problem+json responses, shared by every controller: `@ApiProblems(400, 401)`.
import { applyDecorators } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';

/** One broken rule of one field. */
export class FieldErrorDto {
  @ApiProperty({ example: 'email' }) field!: string;
  @ApiProperty({ example: 'email must be an e-mail address such as ada@example.com' }) message!: string;
}

/** RFC 9457 problem details. */
export class ProblemDto {
  @ApiProperty({ example: 'urn:paastech:problem:invalid_argument' }) type!: string;
  @ApiProperty({ example: 'Bad Request' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty({ example: 'invalid request: email: email must be an e-mail address such as ada@example.com' })
  detail!: string;
  @ApiPropertyOptional({ example: '/api/v1/auth/signup' }) instance?: string;
  @ApiPropertyOptional({ type: [FieldErrorDto] }) errors?: FieldErrorDto[];
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'the request breaks a rule (per-field `errors` for validation)',
  401: 'no valid session cookie or API token',
  403: 'cross-site request refused, or the credential may not do this',
  404: 'not found (also: belongs to another Client)',
  409: 'conflicts with what exists',
  413: 'request body larger than 1 MiB',
  429: 'too many attempts; see Retry-After',
  503: 'the database is unreachable; retry',
};

/** Documents problem+json responses with the given statuses. */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'error',
        content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}
