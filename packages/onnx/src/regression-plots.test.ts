import { describe, expect, it } from 'vitest';
import { createRegressionPlotData, MAX_REGRESSION_PLOT_POINTS } from './regression-plots.js';

describe('regression plots', () => {
  it('predicted against actual, and residuals (actual - predicted) against predicted, per output', () => {
    const data = createRegressionPlotData(2);
    data.add(Float64Array.from([1, 10, 2, 20]), Float64Array.from([1.5, 9, 2, 22]));
    const [first, second] = data.plots();
    expect(first!.predictedVsActual.rows).toEqual([
      { actual: 1.5, predicted: 1 },
      { actual: 2, predicted: 2 },
    ]);
    expect(second!.residuals.rows).toEqual([
      { predicted: 10, residual: -1 },
      { predicted: 20, residual: 2 },
    ]);
    expect(first!.residuals).toMatchObject({ kind: 'scatter', x: 'predicted', y: 'residual' });
  });

  it('samples a large evaluation evenly, first and last sample included', () => {
    const data = createRegressionPlotData(1);
    const samples = 2.5 * MAX_REGRESSION_PLOT_POINTS;
    for (let start = 0; start < samples; start += 1000) {
      const values = Float64Array.from({ length: 1000 }, (_, index) => start + index);
      data.add(values, values);
    }
    const rows = data.plots()[0]!.predictedVsActual.rows;
    expect(rows).toHaveLength(MAX_REGRESSION_PLOT_POINTS);
    expect(rows[0]).toEqual({ actual: 0, predicted: 0 });
    expect(rows.at(-1)).toEqual({ actual: samples - 1, predicted: samples - 1 });
    const gaps = new Set(
      rows.slice(1).map((row, index) => (row.actual as number) - (rows[index]!.actual as number)),
    );
    expect([...gaps].sort()).toEqual([2, 3]);
  });
});
