/**
 * One run's series of one metric as a chart draws it: the server's buckets (x, last, min, max;
 * each bucket counts every point in it, so a spike is in min/max even when `last` is not), then
 * the points the live stream brought since, appended as buckets of one point.
 *
 * No point is shown twice or lost across a reload or a reconnect: while a fetch is in flight,
 * live points are held back, and once the fetched buckets are in, only held points past the last
 * fetched step are appended. A live point is appended only when its step is past the last one
 * shown (a repeated step is the same point coming again through a replay).
 */
import { wireNumber } from './api-client.js';
import type { Bucket, XAxis } from './api-types.js';

export class SeriesData {
  x: number[] = [];
  steps: number[] = [];
  last: Array<number | null> = [];
  min: Array<number | null> = [];
  max: Array<number | null> = [];
  /** Points each bucket stands for. */
  counts: number[] = [];
  /** Points the buckets stand for (a bucket of the server may hold many). */
  points = 0;
  lastStep = Number.NEGATIVE_INFINITY;
  private held: Array<[number, number, number]> | undefined;

  constructor(
    readonly runId: string,
    readonly metric: string,
    private readonly axis: XAxis,
    private readonly startedAt: number,
  ) {}

  /** A fetch starts: hold live points until it lands. */
  beginFetch(): void {
    this.held ??= [];
  }

  /**
   * Finer buckets of [from, to] (a zoom) replace what was shown in that range only; the rest of
   * the series stays as it was.
   */
  replaceRange(buckets: Bucket[], from: number, to: number): void {
    const keep = (predicate: (x: number) => boolean) => {
      const indexes = this.x.flatMap((x, index) => (predicate(x) ? [index] : []));
      return {
        x: indexes.map((index) => this.x[index]!),
        steps: indexes.map((index) => this.steps[index]!),
        last: indexes.map((index) => this.last[index]!),
        min: indexes.map((index) => this.min[index]!),
        max: indexes.map((index) => this.max[index]!),
        counts: indexes.map((index) => this.counts[index]!),
      };
    };
    const before = keep((x) => x < from);
    const after = keep((x) => x > to);
    const held = this.held;
    this.held = [];
    this.replace(buckets);
    const middle = {
      x: this.x,
      steps: this.steps,
      last: this.last,
      min: this.min,
      max: this.max,
      counts: this.counts,
    };
    this.x = [...before.x, ...middle.x, ...after.x];
    this.steps = [...before.steps, ...middle.steps, ...after.steps];
    this.last = [...before.last, ...middle.last, ...after.last];
    this.min = [...before.min, ...middle.min, ...after.min];
    this.max = [...before.max, ...middle.max, ...after.max];
    this.counts = [...before.counts, ...middle.counts, ...after.counts];
    this.points = this.counts.reduce((sum, count) => sum + count, 0);
    this.lastStep = this.steps.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...this.steps);
    this.held = undefined;
    for (const point of held ?? []) this.appendPoint(point);
  }

  /** The fetched buckets replace what was shown; held live points past them are appended. */
  replace(buckets: Bucket[]): void {
    this.x = [];
    this.steps = [];
    this.last = [];
    this.min = [];
    this.max = [];
    this.counts = [];
    this.points = 0;
    this.lastStep = Number.NEGATIVE_INFINITY;
    for (const bucket of buckets) {
      const last = wireNumber(bucket.last);
      const min = bucket.min === undefined ? last : wireNumber(bucket.min);
      const max = bucket.max === undefined ? last : wireNumber(bucket.max);
      this.x.push(bucket.x);
      this.steps.push(bucket.lastStep);
      this.last.push(Number.isFinite(last) ? last : null);
      this.min.push(Number.isFinite(min) ? min : null);
      this.max.push(Number.isFinite(max) ? max : null);
      this.counts.push(bucket.count);
      this.points += bucket.count;
      if (bucket.lastStep > this.lastStep) this.lastStep = bucket.lastStep;
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const point of held) this.appendPoint(point);
  }

  /** A fetch failed: what was held is appended, so nothing is lost. */
  abortFetch(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const point of held) this.appendPoint(point);
  }

  /** Live points from a stream frame, [step, value, ts] each. Returns how many were new. */
  appendLive(points: Array<[number, unknown, number]>): number {
    let added = 0;
    for (const [step, value, ts] of points) {
      const point: [number, number, number] = [step, wireNumber(value), ts];
      if (this.held !== undefined) this.held.push(point);
      else if (this.appendPoint(point)) added++;
    }
    return added;
  }

  private appendPoint([step, value, ts]: [number, number, number]): boolean {
    if (!(step > this.lastStep)) return false;
    this.lastStep = step;
    const x = this.axis === 'step' ? step : this.axis === 'time' ? ts : ts - this.startedAt;
    const shown = Number.isFinite(value) ? value : null;
    this.x.push(x);
    this.steps.push(step);
    this.last.push(shown);
    this.min.push(shown);
    this.max.push(shown);
    this.counts.push(1);
    this.points++;
    return true;
  }
}
