/**
 * Merges params that came from the network into a run's params: objects merge key by key, any
 * other value replaces. Unlike a plain assignment, a key named `__proto__` (which JSON.parse
 * makes an ordinary key) stays an ordinary key and can never reach an object's prototype.
 */

/** Deepest nesting merged; the protocol's own limit is 32 levels (core's params check). */
const MAX_MERGE_DEPTH = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function mergeParamsSafely(
  target: Record<string, unknown>,
  update: Record<string, unknown>,
  depth = 0,
): void {
  for (const key of Object.keys(update)) {
    const value = update[key];
    const existing = Object.hasOwn(target, key) ? target[key] : undefined;
    if (depth < MAX_MERGE_DEPTH && isPlainObject(existing) && isPlainObject(value)) {
      mergeParamsSafely(existing, value, depth + 1);
    } else {
      Object.defineProperty(target, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
}
