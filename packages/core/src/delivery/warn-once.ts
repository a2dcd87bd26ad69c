/**
 * Warnings that cannot flood a log: a server down for an hour must not print one line per step.
 * A sink says each kind of problem once (by key), or at most once per interval for a problem that
 * comes and goes (a retrying outage), and every message is redacted before it leaves.
 */

export type Warn = (message: string) => void;

/** `warnOnce(key, message)`: the first message under each key is passed on, redacted; later ones are not. */
export function createWarnOnce(
  warn: Warn,
  redact: (text: string) => string = (text) => text,
): (key: string, message: string) => void {
  const warned = new Set<string>();
  return (key, message) => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(redact(message));
  };
}

/** `warnAtMostEvery(message)`: passed on (redacted) unless one was passed on less than `intervalMs` ago. */
export function createThrottledWarning(
  warn: Warn,
  intervalMs: number,
  redact: (text: string) => string = (text) => text,
  now: () => number = Date.now,
): (message: string) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  return (message) => {
    if (now() - lastAt < intervalMs) return;
    lastAt = now();
    warn(redact(message));
  };
}
