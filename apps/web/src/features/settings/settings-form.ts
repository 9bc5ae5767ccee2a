// The settings form's state and the PATCH body it becomes. Text inputs hold strings; an empty
// limit or health check path means "the platform default" (null), an empty buildpack means
// auto-detection (null), and a limit that is not a whole
// number is sent as typed so the API names the rule it breaks.
import type { Schemas } from '../../shared/api.js';

export type Settings = Schemas['SettingsDto'];
export type SettingsChange = Schemas['SettingsChangeDto'];
export const LIMIT_FIELDS = ['memory_mb', 'cpu_millicores', 'max_processes', 'disk_mb'] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];

export interface SettingsForm {
  healthCheckPath: string;
  builder: Settings['builder'];
  /** An installed buildpack's name or an https:// git URL; empty = auto-detect. */
  buildpack: string;
  egress: boolean;
  limits: Record<LimitField, string>;
}

/** The form showing `s`. */
export function formFrom(s: Settings): SettingsForm {
  const limits = Object.fromEntries(
    LIMIT_FIELDS.map((f) => [f, s.limits[f] === null ? '' : String(s.limits[f])]),
  ) as Record<LimitField, string>;
  return {
    healthCheckPath: s.health_check_path ?? '',
    builder: s.builder,
    buildpack: s.buildpack ?? '',
    egress: s.egress,
    limits,
  };
}

/** A limit input as the API takes it: empty → null, digits → a number, anything else as typed. */
function limitValue(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  return /^\d+$/.test(t) ? Number(t) : (t as unknown as number);
}

/** The PATCH body saving the whole form. */
export function changeFrom(form: SettingsForm): SettingsChange {
  const path = form.healthCheckPath.trim();
  const buildpack = form.buildpack.trim();
  return {
    health_check_path: path === '' ? null : path,
    builder: form.builder,
    buildpack: buildpack === '' ? null : buildpack,
    egress: form.egress,
    limits: Object.fromEntries(
      LIMIT_FIELDS.map((f) => [f, limitValue(form.limits[f])]),
    ) as SettingsChange['limits'],
  };
}
