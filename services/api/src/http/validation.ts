// Request validation: DTO classes with class-validator rules, checked by one global pipe. Unknown
// fields are refused (not silently dropped), values are never coerced (an array where a string is
// expected is an error — cf. GitLab CVE-2023-7028), and every broken rule is reported per field.
import { type ArgumentMetadata, Injectable, type PipeTransform, ValidationPipe } from '@nestjs/common';
import { type FieldViolation, InvalidArgumentError } from '@paastech/kit';
import type { ValidationError } from 'class-validator';

/** Flattens class-validator's tree into `field: message` pairs (`a.b` for nested fields). */
function violations(errors: ValidationError[], parent = ''): FieldViolation[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...violations(e.children ?? [], field)];
  });
}

/** The InvalidArgumentError for a failed validation. */
function invalid(errors: ValidationError[]): InvalidArgumentError {
  const list = violations(errors);
  const summary = list.map((v) => `${v.field}: ${v.message}`).join('; ');
  return new InvalidArgumentError(`invalid request: ${summary}`, list);
}

/** The global pipe: JSON objects only for bodies, then whitelist + forbid + transform. */
@Injectable()
export class StrictValidationPipe implements PipeTransform {
  private readonly inner = new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: invalid,
  });

  /** Refuses non-object bodies, then validates and transforms with class-validator. */
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && isDto(metadata.metatype)) {
      if (value === undefined || value === null) value = {};
      if (typeof value !== 'object' || Array.isArray(value))
        throw new InvalidArgumentError('invalid request: body must be a JSON object');
    }
    return this.inner.transform(value, metadata);
  }
}

/** True for DTO classes (not String/Number/Object and friends). */
function isDto(metatype: unknown): boolean {
  return (
    typeof metatype === 'function' && ![String, Number, Boolean, Array, Object].includes(metatype as never)
  );
}
