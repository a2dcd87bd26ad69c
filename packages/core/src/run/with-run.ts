import { Run, type StartRunOptions } from './run.js';

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
