/**
 * Debiased exponential moving average, as TensorBoard defines it: each value is the EMA of the
 * values so far divided by (1 - weight^n), so the start of a curve is not dragged towards 0 (the
 * bias TensorBoard #4481 and #1127 report). NaN and the infinities are skipped (the smoothed line
 * carries on through them); `weight` 0 returns the values unchanged.
 */
export function debiasedEma(
  values: ArrayLike<number | null>,
  weight: number,
): Array<number | null> {
  const out: Array<number | null> = new Array(values.length);
  if (!(weight > 0)) {
    for (let index = 0; index < values.length; index++) out[index] = values[index] ?? null;
    return out;
  }
  const clamped = Math.min(weight, 0.999);
  let accumulated = 0;
  let count = 0;
  let last: number | null = null;
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value === null || value === undefined || !Number.isFinite(value)) {
      out[index] = last;
      continue;
    }
    accumulated = accumulated * clamped + (1 - clamped) * value;
    count++;
    last = accumulated / (1 - clamped ** count);
    out[index] = last;
  }
  return out;
}
