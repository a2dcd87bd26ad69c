import { Run } from './run.js';
import type { StartRunOptions } from './run-options.js';

/** Starts a run: `const run = startRun({ experiment: 'iris', params: { lr: 0.1 } })`. */
export function startRun(options: StartRunOptions = {}): Run {
  return new Run(options);
}

/**
 * Runs `fn` with a fresh run and ends it: completed when `fn` returns, failed (with the error)
 * when it throws, and the error is rethrown. Returns what `fn` returns.
 */
export async function withRun<T>(
  options: StartRunOptions,
  fn: (run: Run) => Promise<T> | T,
): Promise<T> {
  const run = new Run(options);
  let result: T;
  try {
    result = await fn(run);
  } catch (error) {
    await run.end('failed', { error });
    throw error;
  }
  await run.end('completed');
  return result;
}
