// How a project's limits are resolved and bounded, and how they become sandbox settings (pure).
// Invariant: a deployment never runs with limits above the operator's bounds (PAASTECH_MAX_INSTANCE_*)
// nor below what a process needs to start; an out-of-bounds request is refused, never clamped
// silently.
import { InvalidArgumentError } from '@paastech/kit';
import { DEFAULT_LIMITS, type Limits } from '../domain/model.js';

const MiB = 1024 * 1024;

/** The smallest limits a process can start with (the kernel's 1 ms CFS quota per 10 ms period). */
export const MIN_LIMITS: Limits = {
  memoryBytes: 16 * MiB,
  cpuMillicores: 100,
  maxProcesses: 8,
  diskBytes: MiB,
};

/** Operator bounds when none are configured. */
export const DEFAULT_BOUNDS: Limits = {
  memoryBytes: 4096 * MiB,
  cpuMillicores: 4000,
  maxProcesses: 4096,
  diskBytes: 10_240 * MiB,
};

const FIELDS: Record<keyof Limits, { field: string; unit: (n: number) => string }> = {
  memoryBytes: { field: 'limits.memory_bytes', unit: (n) => `${Math.round(n / MiB)} MiB` },
  cpuMillicores: { field: 'limits.cpu_millicores', unit: (n) => `${n} millicores` },
  maxProcesses: { field: 'limits.max_processes', unit: (n) => `${n} processes` },
  diskBytes: { field: 'limits.disk_bytes', unit: (n) => `${Math.round(n / MiB)} MiB` },
};

/** The limits of a deployment: the defaults, overridden by the non-zero requested values, checked. */
export function resolveLimits(requested: Partial<Limits>, bounds: Limits = DEFAULT_BOUNDS): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  const violations: { field: string; message: string }[] = [];
  for (const key of Object.keys(FIELDS) as (keyof Limits)[]) {
    const want = requested[key];
    // Unset (0) takes the default, which an operator's lower bound also caps.
    out[key] = want ? want : Math.min(DEFAULT_LIMITS[key], bounds[key]);
    const { field, unit } = FIELDS[key];
    if (!Number.isSafeInteger(out[key]) || out[key] < MIN_LIMITS[key]) {
      violations.push({ field, message: `${unit(out[key])}: must be at least ${unit(MIN_LIMITS[key])}` });
    } else if (out[key] > bounds[key]) {
      violations.push({
        field,
        message: `${unit(out[key])}: must be at most ${unit(bounds[key])} (operator bound)`,
      });
    }
  }
  if (violations.length > 0) {
    throw new InvalidArgumentError(
      `limits: ${violations.map((v) => `${v.field} ${v.message}`).join('; ')}`,
      violations,
    );
  }
  return out;
}

/**
 * Size of a process's private /tmp. It is a tmpfs, whose pages count against the memory cgroup:
 * capped at half the memory limit so that filling it ends in ENOSPC for the app, not an OOM kill.
 */
export function tmpSizeBytes(limits: Limits): number {
  const half = Math.floor(limits.memoryBytes / 2);
  const want = limits.diskBytes > 0 ? limits.diskBytes : half;
  return Math.max(1024 * 1024, Math.min(want, half));
}
