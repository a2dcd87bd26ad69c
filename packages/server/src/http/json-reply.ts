/**
 * Replies as JSON in which NaN and the infinities survive as "nan", "inf" and "-inf" (the
 * protocol's spelling), where JSON.stringify would silently write null.
 */

function keepNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    if (Number.isNaN(value)) return 'nan';
    return value > 0 ? 'inf' : '-inf';
  }
  return value;
}

export function stringifyReply(payload: unknown): string {
  return JSON.stringify(payload, keepNonFinite);
}
