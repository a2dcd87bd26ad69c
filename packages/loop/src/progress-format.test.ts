import { describe, expect, it } from 'vitest';
import {
  formatCount,
  formatDuration,
  formatMetrics,
  formatMetricValue,
  formatProgressLine,
  formatRate,
} from './progress-format.js';
import type { ProgressSnapshot } from './progress-meter.js';

describe('progress formatting', () => {
  it('durations read like tqdm’s', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(2_500)).toBe('00:02');
    expect(formatDuration(65_000)).toBe('01:05');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDuration(undefined)).toBe('?');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });

  it('rates flip to seconds per iteration below one a second', () => {
    expect(formatRate(350.24)).toBe('350.2 it/s');
    expect(formatRate(12.345)).toBe('12.35 it/s');
    expect(formatRate(0.4)).toBe('2.50 s/it');
    expect(formatRate(undefined)).toBe('? it/s');
    expect(formatRate(0)).toBe('? it/s');
  });

  it('metric values stay short but move visibly', () => {
    expect(formatMetricValue(0.123456)).toBe('0.1235');
    expect(formatMetricValue(12.3456)).toBe('12.35');
    expect(formatMetricValue(3)).toBe('3');
    expect(formatMetricValue(0.000012346)).toBe('1.235e-5');
    expect(formatMetricValue(123456789)).toBe('1.235e+8');
    expect(formatMetricValue(0.0001)).toBe('1e-4');
    expect(formatMetricValue(0)).toBe('0');
    expect(formatMetricValue(Number.NaN)).toBe('nan');
    expect(formatMetricValue(Number.NEGATIVE_INFINITY)).toBe('-inf');
    expect(
      formatMetrics(
        new Map([
          ['train/loss', 0.5],
          ['eval/accuracy', 0.91],
        ]),
      ),
    ).toBe('train/loss=0.5 eval/accuracy=0.91');
  });

  it('counts with and without a total', () => {
    expect(formatCount(120, 1000)).toBe('120/1000 (12%)');
    expect(formatCount(0, 0)).toBe('0/0 (100%)');
    expect(formatCount(7, undefined)).toBe('7 it');
  });

  it('a plain progress line has the count, rate, elapsed<left, metrics', () => {
    const snapshot: ProgressSnapshot = {
      description: 'train',
      count: 120,
      total: 1000,
      elapsedMs: 3_400,
      rate: 350.2,
      etaMs: 2_500,
      metrics: new Map([['train/loss', 0.123]]),
    };
    expect(formatProgressLine(snapshot)).toBe(
      'train 120/1000 (12%) | 350.2 it/s | 00:03<00:02 | train/loss=0.123',
    );
    expect(formatProgressLine({ ...snapshot, description: undefined }, 'done')).toBe(
      '120/1000 (12%) | 350.2 it/s | 00:03 | train/loss=0.123 | done',
    );
    expect(
      formatProgressLine({ ...snapshot, total: undefined, etaMs: undefined, metrics: new Map() }),
    ).toBe('train 120 it | 350.2 it/s | 00:03');
  });
});
