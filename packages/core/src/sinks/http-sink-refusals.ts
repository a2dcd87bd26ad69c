/**
 * The HTTP sink's rules for a refused batch (a 4xx other than 401/403): which refusals halving can
 * get past, how far halving may go, and which refusals of a columns request are taken to be about
 * the form. What is still refused is kept in `<run id>.refused.jsonl` (see http-sink-custody.ts).
 */
import type { PermanentOutcome } from '../delivery/request-outcome.js';
import type { Batch } from '../protocol/events.js';

/**
 * Refusals that can be about some of a batch's events (a value the server's schema refuses, a
 * body over its limit): halving finds the events it takes. Other refusals (404, 405, 415...) are
 * about the endpoint, the same for every event, and splitting them only multiplies requests.
 */
const SPLITTABLE_REFUSALS = new Set([400, 413, 422]);
/**
 * Refused requests in a row (nothing accepted in between) after which a refused batch is kept
 * whole, no longer split: a server that refuses everything then costs about this many requests
 * plus one per batch, where splitting every batch down to single events cost two per event. Deep
 * enough to isolate one bad event in a 5,000-event batch (13 halvings).
 */
const MAX_REFUSALS_IN_A_ROW = 16;
/**
 * Halvings of one batch (as taken from memory or the spool, at most 5,000 events), so a server
 * that refuses many scattered events cannot cost two requests per event: at most about twice this
 * many requests per batch. Enough to fit a 5,000-event batch to a 100-event limit (63 halvings) or
 * to find 4 bad events in it; what is left unsplit is kept whole as refused, for a later sync.
 */
export const MAX_SPLITS_PER_BATCH = 64;
/**
 * Refusals of a columns request that may be about the form (a server that no longer takes it):
 * the same events are sent again as objects before anything is split or kept as refused.
 */
export const COLUMN_FORM_REFUSALS = new Set([400, 422]);

/** How many more times a batch and its halves may be split (see MAX_SPLITS_PER_BATCH). */
export interface SplitBudget {
  left: number;
  /** A columns request for this batch was refused: it and its halves go as event objects. */
  objectsOnly?: boolean;
}

/**
 * The two halves to send instead of a refused batch, or undefined to keep it as refused: one
 * event, a refusal about the endpoint, `refusalsInARow` (this one counted) at the bound, or the
 * batch's split budget spent. Ids keep the halves idempotent.
 */
export function halvesOfRefused(
  batch: Batch,
  outcome: PermanentOutcome,
  refusalsInARow: number,
  splits: SplitBudget,
): [Batch, Batch] | undefined {
  if (
    batch.events.length < 2 ||
    !SPLITTABLE_REFUSALS.has(outcome.status) ||
    refusalsInARow >= MAX_REFUSALS_IN_A_ROW ||
    splits.left <= 0
  ) {
    return undefined;
  }
  splits.left--;
  const middle = Math.ceil(batch.events.length / 2);
  return [
    { ...batch, events: batch.events.slice(0, middle) },
    { ...batch, events: batch.events.slice(middle) },
  ];
}
