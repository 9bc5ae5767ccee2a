// The scale form's model: instances per process type, within the API's bounds.

export const MAX_PER_TYPE = 10;
export const MAX_TOTAL = 20;

/** Process types to offer: those in the formation, those running, and always `web`. */
export function processTypes(formation: Record<string, number>, running: string[]): string[] {
  return [...new Set(['web', ...Object.keys(formation), ...running])].sort((a, b) =>
    a === 'web' ? -1 : b === 'web' ? 1 : a.localeCompare(b),
  );
}

/** The rule an entered count breaks, or undefined. */
export function countProblem(text: string): string | undefined {
  if (!/^\d+$/.test(text.trim())) return 'must be a whole number';
  const n = Number(text);
  if (n > MAX_PER_TYPE) return `must be at most ${MAX_PER_TYPE}`;
  return undefined;
}

/** The formation the form describes, or a problem with the total. */
export function formationFrom(counts: Record<string, string>): {
  formation: Record<string, number>;
  problem?: string;
} {
  const formation: Record<string, number> = {};
  for (const [type, text] of Object.entries(counts)) formation[type] = Number(text.trim());
  const total = Object.values(formation).reduce((a, b) => a + b, 0);
  return total > MAX_TOTAL ? { formation, problem: `at most ${MAX_TOTAL} instances in all` } : { formation };
}

/** "2h 5m", "45s": a running instance's uptime. */
export function formatUptime(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m`;
  return `${Math.floor(seconds)}s`;
}

/** True when some instance names the node it runs on (swarm runtime): the table then has a Node column. */
export function showsNodes(instances: { node?: string | null }[]): boolean {
  return instances.some((i) => typeof i.node === 'string' && i.node !== '');
}
