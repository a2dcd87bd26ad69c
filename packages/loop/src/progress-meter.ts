/**
 * The numbers a progress display shows: iterations done, elapsed time, a smoothed rate and the
 * time left. Read only when something is drawn (a few times a second), never per iteration.
 */

/** Weight of the newest rate reading (tqdm's default smoothing): steady, yet follows a slowdown. */
const RATE_SMOOTHING = 0.3;
/** Shortest window a rate reading is taken over; shorter ones are mostly timer noise. */
const MIN_RATE_WINDOW_MS = 100;

export interface ProgressSnapshot {
  description: string | undefined;
  /** Iterations done. */
  count: number;
  /** Iterations expected, when known. */
  total: number | undefined;
  elapsedMs: number;
  /** Iterations per second (smoothed while running; the overall average at the end). */
  rate: number | undefined;
  /** Time left at the current rate, when the total is known. */
  etaMs: number | undefined;
  /** The latest value of every metric logged through the loop. */
  metrics: ReadonlyMap<string, number>;
}

export class ProgressMeter {
  /** When the loop started (performance.now() time). */
  readonly startedAt: number;
  private rate: number | undefined;
  private rateCount = 0;
  private rateAt: number;

  constructor(
    readonly description: string | undefined,
    readonly total: number | undefined,
    private readonly metrics: ReadonlyMap<string, number>,
    now: number = performance.now(),
  ) {
    this.startedAt = now;
    this.rateAt = now;
  }

  /** The state while the loop runs, with a smoothed rate. */
  snapshot(count: number, now: number = performance.now()): ProgressSnapshot {
    const window = now - this.rateAt;
    if (window >= MIN_RATE_WINDOW_MS && count >= this.rateCount) {
      const reading = ((count - this.rateCount) * 1000) / window;
      this.rate =
        this.rate === undefined
          ? reading
          : RATE_SMOOTHING * reading + (1 - RATE_SMOOTHING) * this.rate;
      this.rateCount = count;
      this.rateAt = now;
    }
    const elapsedMs = now - this.startedAt;
    const rate = this.rate ?? (count > 0 && elapsedMs > 0 ? (count * 1000) / elapsedMs : undefined);
    return this.make(count, elapsedMs, rate);
  }

  /** The state at the end, with the average rate over the whole loop. */
  finalSnapshot(count: number, now: number = performance.now()): ProgressSnapshot {
    const elapsedMs = now - this.startedAt;
    return this.make(count, elapsedMs, elapsedMs > 0 ? (count * 1000) / elapsedMs : undefined);
  }

  private make(count: number, elapsedMs: number, rate: number | undefined): ProgressSnapshot {
    const etaMs =
      this.total !== undefined && rate !== undefined && rate > 0
        ? (Math.max(0, this.total - count) * 1000) / rate
        : undefined;
    return {
      description: this.description,
      count,
      total: this.total,
      elapsedMs,
      rate,
      etaMs,
      metrics: this.metrics,
    };
  }
}
