/**
 * How evaluate() reports a problem: a mistake in its options or its data throws at once, naming
 * the fix; a problem that does not stop the evaluation is a process warning and a note on the run.
 */
import type { Run } from '@livestep/core';
import { emitLivestepWarning } from '@livestep/core/sink-kit';

/** Throws `TypeError('livestep: evaluate() <message>')`: a wrong option or batch, with the fix. */
export function throwEvaluateError(message: string): never {
  throw new TypeError(`livestep: evaluate() ${message}`);
}

/** A problem that does not stop the evaluation: a process warning, and a note on the run. */
export function warnAndAnnotate(message: string, run?: Run): void {
  emitLivestepWarning(message);
  run?.annotate(message, { level: 'warning' });
}

/** The message of something thrown, for an error that wraps it. */
export function errorMessage(error: unknown): string {
  return (error as Error | undefined)?.message ?? String(error);
}
