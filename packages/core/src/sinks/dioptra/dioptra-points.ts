/**
 * What waits for Dioptra: the run's metric points in the order they were logged, and how one
 * becomes the body Dioptra's metric endpoint takes (backends.md B.3): `{name, value, step,
 * timestamp}`, the name mapped by dioptra-names.ts, the value a number or `"nan"`, `"inf"`,
 * `"-inf"` (livestep's own value codec uses the same three strings), the timestamp ISO-8601 (UTC,
 * milliseconds), the step as logged. Bodies are built in the background, never in the logging call.
 */
import { metricSeriesName } from '../../dvclive/layout.js';
import type { MetricEvent } from '../../protocol/events.js';
import { encodeDioptraName } from './dioptra-names.js';

export type DioptraValue = number | 'nan' | 'inf' | '-inf';

export interface DioptraMetricBody {
  name: string;
  value: DioptraValue;
  step: number;
  timestamp: string;
}

/** A livestep value as Dioptra takes it (numbers that are not finite included, defensively). */
export function dioptraValue(value: MetricEvent['value'] | number): DioptraValue {
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return value;
}

export function dioptraMetricBody(event: MetricEvent): DioptraMetricBody {
  return {
    name: encodeDioptraName(metricSeriesName(event.name, event.labels)),
    value: dioptraValue(event.value),
    step: event.step,
    timestamp: new Date(event.ts).toISOString(),
  };
}

/** A first-in first-out queue of points with no O(n) shift. */
export class PointQueue {
  private items: MetricEvent[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(event: MetricEvent): void {
    this.items.push(event);
  }

  peek(): MetricEvent | undefined {
    return this.items[this.head];
  }

  shift(): void {
    this.head++;
    // Compacted once the delivered front is most of the array.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Empties the queue; returns how many points it held. */
  discard(): number {
    const count = this.length;
    this.items = [];
    this.head = 0;
    return count;
  }
}
