// How a project's limits become sandbox settings (pure).
import type { Limits } from '../domain/model.js';

/**
 * Size of a process's private /tmp. It is a tmpfs, whose pages count against the memory cgroup:
 * capped at half the memory limit so that filling it ends in ENOSPC for the app, not an OOM kill.
 */
export function tmpSizeBytes(limits: Limits): number {
  const half = Math.floor(limits.memoryBytes / 2);
  const want = limits.diskBytes > 0 ? limits.diskBytes : half;
  return Math.max(1024 * 1024, Math.min(want, half));
}
