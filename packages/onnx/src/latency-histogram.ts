/**
 * Latency percentiles of an unbounded number of calls in bounded memory: a log-bucketed
 * histogram (DDSketch's buckets) whose every bucket spans values within RELATIVE_ACCURACY of its
 * representative, so a percentile is within that share of the exact value, however many calls an
 * instrumented session serves. Count, mean, min and max are exact.
 */

/**
 * How far a percentile may be from the exact one, as a share of it: 0.5%, finer than the
 * run-to-run noise of any latency. Buckets grow by (1 + a) / (1 - a), ~1%.
 */
export const RELATIVE_ACCURACY = 0.005;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const ONE_OVER_LOG_GAMMA = 1 / Math.log(GAMMA);
/**
 * Latencies the buckets cover, in ms: 1 ns to ~11.5 days, ~3,450 buckets in one typed array (an
 * add is a logarithm and an increment, no map). Values outside count in the first or last bucket;
 * min and max stay exact.
 */
const SMALLEST_BUCKETED_MS = 1e-6;
const LARGEST_BUCKETED_MS = 1e9;
const FIRST_BUCKET = Math.ceil(Math.log(SMALLEST_BUCKETED_MS) * ONE_OVER_LOG_GAMMA);
const LAST_BUCKET = Math.ceil(Math.log(LARGEST_BUCKETED_MS) * ONE_OVER_LOG_GAMMA);

export interface LatencyHistogramSummary {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p99: number;
}

export class LatencyHistogram {
  /** Count per bucket; bucket b holds (GAMMA^(b-1), GAMMA^b], at index b - FIRST_BUCKET. */
  private readonly buckets = new Float64Array(LAST_BUCKET - FIRST_BUCKET + 1);
  /** Values of 0 (a clock that did not move), kept apart: they have no logarithm. */
  private zeros = 0;
  private total = 0;
  private sum = 0;
  private smallest = Number.POSITIVE_INFINITY;
  private largest = Number.NEGATIVE_INFINITY;

  get count(): number {
    return this.total;
  }

  /** Adds one latency in milliseconds (>= 0). */
  add(milliseconds: number): void {
    this.total++;
    this.sum += milliseconds;
    if (milliseconds < this.smallest) this.smallest = milliseconds;
    if (milliseconds > this.largest) this.largest = milliseconds;
    if (milliseconds <= 0) {
      this.zeros++;
      return;
    }
    const bucket = Math.ceil(Math.log(milliseconds) * ONE_OVER_LOG_GAMMA);
    this.buckets[Math.min(LAST_BUCKET, Math.max(FIRST_BUCKET, bucket)) - FIRST_BUCKET]!++;
  }

  /**
   * The q-th quantile (0..1): the value at rank q × (count − 1), as numpy's percentile counts
   * ranks, read from its bucket (within RELATIVE_ACCURACY), never outside [min, max].
   */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.round(q * (this.total - 1));
    if (rank < this.zeros) return 0;
    // The ends are known exactly.
    if (rank === 0) return this.smallest;
    if (rank === this.total - 1) return this.largest;
    let seen = this.zeros;
    for (let index = 0; index < this.buckets.length; index++) {
      seen += this.buckets[index]!;
      if (seen > rank) {
        const representative = (2 * GAMMA ** (index + FIRST_BUCKET)) / (GAMMA + 1);
        return Math.min(this.largest, Math.max(this.smallest, representative));
      }
    }
    return this.largest;
  }

  summary(): LatencyHistogramSummary {
    return {
      count: this.total,
      mean: this.total === 0 ? Number.NaN : this.sum / this.total,
      min: this.total === 0 ? Number.NaN : this.smallest,
      max: this.total === 0 ? Number.NaN : this.largest,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
    };
  }
}
