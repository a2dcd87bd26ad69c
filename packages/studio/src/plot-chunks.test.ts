import { describe, expect, it } from 'vitest';
import { type PlotSource, STUDIO_PLOT_LIMITS, takePlotChunk } from './plot-chunks.js';

const rowsSource = (path: string, count: number, available = count): PlotSource => ({
  kind: 'rows',
  path,
  rows: Array.from({ length: count }, (_, step) => `{"timestamp":"1","step":${step},"v":${step}}`),
  available,
});

const wholeSource = (path: string, size: number): PlotSource => {
  const value = `{"image":"${'A'.repeat(size - 12)}"}`;
  return { kind: 'whole', path, value, valueBytes: Buffer.byteLength(value) };
};

describe('takePlotChunk', () => {
  it('takes everything that fits, as valid JSON members', () => {
    const chunk = takePlotChunk(
      [rowsSource('a.tsv', 3), wholeSource('i.png', 40)],
      100,
      STUDIO_PLOT_LIMITS,
    );
    expect(chunk.taken).toEqual([3, 1]);
    const plots = JSON.parse(`{${chunk.json}}`);
    expect(plots['a.tsv'].data).toHaveLength(3);
    expect(plots['i.png'].image).toHaveLength(28);
    expect(chunk.bytes).toBe(Buffer.byteLength(chunk.json));
  });

  it('takes only the available rows', () => {
    expect(takePlotChunk([rowsSource('a.tsv', 5, 2)], 0, STUDIO_PLOT_LIMITS).taken).toEqual([2]);
  });

  it('stops at the plot count, the plot size and the body size; the rest stays', () => {
    const limits = { maxPlotsPerBody: 2, maxPlotBytes: 200, maxBodyBytes: 400 };
    const count = takePlotChunk(
      [rowsSource('a.tsv', 1), rowsSource('b.tsv', 1), rowsSource('c.tsv', 1)],
      0,
      limits,
    );
    expect(count.taken).toEqual([1, 1, 0]);

    const split = takePlotChunk([rowsSource('a.tsv', 20)], 0, limits);
    expect(split.taken[0]).toBeGreaterThan(0);
    expect(split.taken[0]).toBeLessThan(20);
    const value = JSON.stringify(JSON.parse(`{${split.json}}`)['a.tsv']);
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(200);

    const body = takePlotChunk([wholeSource('x.png', 190), wholeSource('y.png', 190)], 100, limits);
    expect(body.taken).toEqual([1, 0]);
    expect(100 + body.bytes).toBeLessThanOrEqual(400);

    // A smaller plot later in line still fits where a larger one did not.
    const skip = takePlotChunk(
      [wholeSource('x.png', 190), wholeSource('y.png', 190), wholeSource('z.png', 20)],
      100,
      { ...limits, maxPlotsPerBody: 5 },
    );
    expect(skip.taken).toEqual([1, 0, 1]);
  });

  it('measures bytes, not characters', () => {
    const source: PlotSource = { kind: 'rows', path: 'é.tsv', rows: ['{"v":"ééé"}'], available: 1 };
    const chunk = takePlotChunk([source], 0, STUDIO_PLOT_LIMITS);
    expect(chunk.bytes).toBe(Buffer.byteLength(chunk.json));
  });
});
