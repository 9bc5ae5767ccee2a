// Request and response shapes of /api/v1/projects/:name/settings. Limits are checked here for sane
// ranges only; the operator's bounds (PAASTECH_MAX_INSTANCE_*) are Pomegrenade's to enforce, and a
// deployment asking for more fails with the bound it broke.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import type { ProjectRow } from '../projects/projects.repository.js';
import { BUILDPACK_MAX_LENGTH, IsBuildpack } from './buildpack.js';

export const BUILDERS = ['auto', 'node', 'static', 'python', 'procfile'] as const;
export type BuilderName = (typeof BUILDERS)[number];

/** Sane ranges of the limits (the operator's bounds may be lower). */
export const LIMIT_RANGES = {
  memory_mb: [16, 1_048_576],
  cpu_millicores: [100, 256_000],
  max_processes: [8, 1_048_576],
  disk_mb: [1, 16_777_216],
} as const;

/** A path the health check may GET: starts with /, printable ASCII without spaces, ≤ 256. */
const HEALTH_PATH = /^\/[\x21-\x7e]{0,255}$/;

/** What the buildpack setting holds, for the OpenAPI document. */
const BUILDPACK_DOC =
  'custom buildpack (Heroku buildpack API) that builds instead of the built-in builders: the name of a buildpack the operator installed, or an https:// git URL with an optional #ref (no credentials); null = auto-detect';

/** When a settings change takes effect, as every response says. */
const APPLIES = 'changes apply at the next deployment; egress applies at once';

/** One limit's OpenAPI schema and class-validator rules, both from its range in LIMIT_RANGES. */
function limitRules(
  field: keyof typeof LIMIT_RANGES,
  doc: { example: number; description?: string },
): PropertyDecorator {
  const [min, max] = LIMIT_RANGES[field];
  const message = `${field} must be a whole number from ${min} to ${max}, or null for the platform default`;
  return (target, key) => {
    ApiPropertyOptional({ type: Number, nullable: true, minimum: min, maximum: max, ...doc })(target, key);
    IsOptional()(target, key);
    IsInt({ message })(target, key);
    Min(min, { message })(target, key);
    Max(max, { message })(target, key);
  };
}

export class LimitsDto {
  @limitRules('memory_mb', { example: 512 })
  memory_mb?: number | null;

  @limitRules('cpu_millicores', { example: 1000, description: 'thousandths of a core (1000 = one core)' })
  cpu_millicores?: number | null;

  @limitRules('max_processes', { example: 256 })
  max_processes?: number | null;

  @limitRules('disk_mb', { example: 1024 })
  disk_mb?: number | null;
}

export class SettingsChangeDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: '/healthz',
    description:
      'path new web instances must answer with 2xx/3xx before they get traffic; null = only check that the port accepts connections',
  })
  @IsOptional()
  @IsString({ message: 'health_check_path must be a string starting with /' })
  @Matches(HEALTH_PATH, {
    message: 'health_check_path must start with / and hold 1–256 printable ASCII characters without spaces',
  })
  health_check_path?: string | null;

  @ApiPropertyOptional({ enum: BUILDERS, example: 'auto', description: 'auto detects it from the source' })
  @ValidateIf((o: SettingsChangeDto) => o.builder !== undefined)
  @IsIn(BUILDERS, { message: `builder must be one of ${BUILDERS.join(', ')}` })
  builder?: BuilderName;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: BUILDPACK_MAX_LENGTH,
    example: 'heroku-python',
    description: BUILDPACK_DOC,
  })
  @ValidateIf((o: SettingsChangeDto) => o.buildpack !== undefined)
  @IsBuildpack()
  buildpack?: string | null;

  @ApiPropertyOptional({
    example: true,
    description:
      'false cuts the project off from the outside world (builds too), at once for a deployed project',
  })
  @ValidateIf((o: SettingsChangeDto) => o.egress !== undefined)
  @IsBoolean({ message: 'egress must be true or false' })
  egress?: boolean;

  @ApiPropertyOptional({
    type: LimitsDto,
    description: 'per-instance limits; a field left out is unchanged, null = platform default',
  })
  @ValidateIf((o: SettingsChangeDto) => o.limits !== undefined)
  @IsObject({ message: 'limits must be an object' })
  @ValidateNested()
  @Type(() => LimitsDto)
  limits?: LimitsDto;
}

export class LimitsViewDto {
  @ApiProperty({ type: Number, nullable: true, example: 512, description: 'MiB; null = platform default' })
  memory_mb!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 1000, description: 'null = platform default' })
  cpu_millicores!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 256, description: 'null = platform default' })
  max_processes!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 1024, description: 'MiB; null = platform default' })
  disk_mb!: number | null;
}

export class SettingsDto {
  @ApiProperty({ type: String, nullable: true, example: '/healthz' })
  health_check_path!: string | null;

  @ApiProperty({ enum: BUILDERS, example: 'auto' })
  builder!: BuilderName;

  @ApiProperty({ type: String, nullable: true, example: null, description: BUILDPACK_DOC })
  buildpack!: string | null;

  @ApiProperty({ example: true, description: 'instances may reach the outside world' })
  egress!: boolean;

  @ApiProperty({ type: LimitsViewDto })
  limits!: LimitsViewDto;

  @ApiProperty({ example: APPLIES, description: 'when the settings take effect' })
  applies!: string;
}

/** The response form of a project's settings. */
export function mapSettings(row: ProjectRow): SettingsDto {
  return {
    health_check_path: row.health_check_path,
    builder: (BUILDERS as readonly string[]).includes(row.builder) ? (row.builder as BuilderName) : 'auto',
    buildpack: row.buildpack,
    egress: row.egress_enabled !== 0,
    limits: {
      memory_mb: row.memory_mb,
      cpu_millicores: row.cpu_millicores,
      max_processes: row.max_processes,
      disk_mb: row.disk_mb,
    },
    applies: APPLIES,
  };
}
