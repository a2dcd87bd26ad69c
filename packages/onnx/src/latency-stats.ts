/** Latency percentiles and throughput of a set of timed session.run calls. */

export interface LatencySummary {
  /** Timed calls. */
  count: number;
  /** All latencies in milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  /** Sum of all latencies. */
  total: number;
}

/**
 * The q-th quantile (0..1) of ascending values, interpolating linearly between the two nearest
 * ranks: numpy's default (`method="linear"`), so p50 of [1, 2, 3, 4] is 2.5.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const fraction = position - lower;
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * fraction;
}

/** Mean, p50, p90, p99, min, max and total of latencies in milliseconds. */
export function summarizeLatencies(latencies: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let total = 0;
  for (const latency of sorted) total += latency;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    min: sorted.length === 0 ? Number.NaN : sorted[0]!,
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    total,
  };
}

/** Samples per second over the time spent in the model (not in loading data). */
export function samplesPerSecond(samples: number, totalMilliseconds: number): number {
  return totalMilliseconds > 0 ? samples / (totalMilliseconds / 1000) : Number.POSITIVE_INFINITY;
}
