// Small formatting helpers for human output.

/** A timestamp as `2026-11-28 13:37` (UTC), or `fallback` when absent. */
export function when(iso: string | null | undefined, fallback = '-'): string {
  if (!iso) return fallback;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')}`;
}
