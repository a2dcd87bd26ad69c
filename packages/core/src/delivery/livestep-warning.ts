/**
 * Where livestep's warnings go when a sink is given no `onWarning`: Node's warning channel, under
 * a type of their own, so `--no-warnings`, `process.on('warning')` and NODE_OPTIONS filter them
 * like any other and they never reach stdout (which a training script may pipe).
 */

/** The `type` of every warning livestep emits. */
export const LIVESTEP_WARNING_TYPE = 'LivestepWarning';

export function emitLivestepWarning(message: string): void {
  process.emitWarning(message, { type: LIVESTEP_WARNING_TYPE });
}
