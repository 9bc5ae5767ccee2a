// Percentile estimates from the router's latency histogram. A histogram only says which bucket an
// answer fell in, so a percentile is estimated as the upper bound of the bucket holding it: "p95 ≤
// 250 ms". In the overflow bucket there is no upper bound, only the last one: "p99 > 10000 ms".

/** Where a percentile falls: at most `ms`, or above `ms` when it is in the overflow bucket. */
export interface LatencyEstimate {
  ms: number;
  above: boolean;
}

/**
 * The upper bound of the bucket holding the `p`th percentile (0 < p ≤ 100) of the answers counted
 * in `counts` (one per bound in `upperBoundsMs`, then the overflow); null when nothing was counted
 * or the histogram's shape is not that.
 */
export function estimatePercentile(
  upperBoundsMs: readonly number[],
  counts: readonly number[],
  p: number,
): LatencyEstimate | null {
  if (upperBoundsMs.length === 0 || counts.length !== upperBoundsMs.length + 1) return null;
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (!(total > 0)) return null;
  // The rank of the answer at the percentile, 1-based: p·total/100 rounded up (p = 100: the slowest).
  const rank = Math.max(1, Math.ceil((p * total) / 100));
  let seen = 0;
  for (let i = 0; i < upperBoundsMs.length; i++) {
    seen += counts[i] as number;
    if (seen >= rank) return { ms: upperBoundsMs[i] as number, above: false };
  }
  return { ms: upperBoundsMs[upperBoundsMs.length - 1] as number, above: true };
}
