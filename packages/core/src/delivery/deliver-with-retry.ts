/**
 * The one retry loop every sink that talks to a server uses (after OpenTelemetry's retrying
 * transport and Sentry's createTransport(makeRequest)): the sink supplies `attempt` (one request
 * and its own judgement of the answer); the loop decides when to try again.
 *
 * - A retry waits with exponential backoff and jitter (retry-policy.ts); a Retry-After the server
 *   sends wins, cut to `policy.maxRetryAfterMs`.
 * - Waits end at once when `signal` aborts; so does the loop, which never starts an attempt after.
 * - `deadline`: with `atDeadline: 'stop'` (the default) a wait that would end at or past it is not
 *   begun (a sink ending a run must not sleep into its end deadline); with `'try-once-more'` the
 *   wait is cut to the deadline and one last attempt made there (`livestep sync`, whose user asked
 *   for "give up after N s without progress").
 * - `maxAttempts` bounds the attempts for one payload.
 * - `split`: a permanent refusal of a payload that can be cut (a 413, a 400 about one event) may
 *   be split into parts, each then delivered the same way, in order; `onSettled` tells each part's
 *   end, so the caller can count them.
 * - `onRetry` hears each retry before its wait and may stop the loop or change the wait (a sink
 *   spills to its spool there, or warns, or announces the retry).
 */
import { abortableSleep } from './abortable-sleep.js';
import type { PermanentOutcome, RequestOutcome, RetryOutcome } from './request-outcome.js';
import { backoffDelay, type RetryPolicy } from './retry-policy.js';

export interface AttemptContext {
  /** Aborted when the caller stops: pass it to the request. */
  signal: AbortSignal;
  /** When the loop must be done (epoch ms; +Infinity when none): bound the request's timeout by it. */
  deadline: number;
  /** 1 for the first attempt at this payload. */
  attempt: number;
}

export interface RetryEvent<Payload> {
  payload: Payload;
  outcome: RetryOutcome;
  /** The attempt that just failed (1 = the first). */
  attempt: number;
  /** The wait before the next attempt, Retry-After and the deadline already applied. */
  waitMs: number;
}

/** What `onRetry` may say: stop now, or wait differently (another time, or until another signal). */
export type RetryDecision = 'stop' | { waitMs?: number; wakeSignal?: AbortSignal } | undefined;

export type DeliveryResult =
  | { verdict: 'delivered' }
  | { verdict: 'permanent'; outcome: PermanentOutcome }
  | {
      verdict: 'stopped';
      /** `aborted`: the signal; `deadline`, `attempts`: the bounds; `hook`: onRetry said stop. */
      why: 'aborted' | 'deadline' | 'attempts' | 'hook';
      /** The last failure, when there was one. */
      last?: RetryOutcome;
    };

export interface DeliverOptions<Payload> {
  attempt: (payload: Payload, context: AttemptContext) => Promise<RequestOutcome>;
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Epoch ms, or a function read afresh before each wait (a deadline that moves with progress). */
  deadline?: number | (() => number);
  atDeadline?: 'stop' | 'try-once-more';
  maxAttempts?: number;
  /** Parts to deliver instead of a refused payload, or undefined to take the refusal as final. */
  split?: (payload: Payload, outcome: PermanentOutcome) => readonly Payload[] | undefined;
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only listens returns nothing.
  onRetry?: (event: RetryEvent<Payload>) => RetryDecision | void;
  /** Each payload that ended (one not split, or each part of one), with how it ended. */
  onSettled?: (payload: Payload, result: DeliveryResult) => void;
  /** Keep the process alive during waits (a command whose work is delivery); default false. */
  keepAlive?: boolean;
  /** For tests: the jitter's randomness. */
  random?: () => number;
}

const NEVER_ABORTED = new AbortController().signal;

export async function deliverWithRetry<Payload>(
  payload: Payload,
  options: DeliverOptions<Payload>,
): Promise<DeliveryResult> {
  const result = await deliverOne(payload, options);
  if (result.verdict === 'permanent') {
    const parts = options.split?.(payload, result.outcome);
    if (parts !== undefined && parts.length > 0) return deliverParts(parts, options);
  }
  options.onSettled?.(payload, result);
  return result;
}

/** Parts in order; the first that stops ends the rest (they were not attempted). */
async function deliverParts<Payload>(
  parts: readonly Payload[],
  options: DeliverOptions<Payload>,
): Promise<DeliveryResult> {
  let refused: DeliveryResult | undefined;
  for (const part of parts) {
    const result = await deliverWithRetry(part, options);
    if (result.verdict === 'stopped') return result;
    if (result.verdict === 'permanent') refused ??= result;
  }
  return refused ?? { verdict: 'delivered' };
}

async function deliverOne<Payload>(
  payload: Payload,
  options: DeliverOptions<Payload>,
): Promise<DeliveryResult> {
  const signal = options.signal ?? NEVER_ABORTED;
  const deadlineNow = () =>
    typeof options.deadline === 'function'
      ? options.deadline()
      : (options.deadline ?? Number.POSITIVE_INFINITY);
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  let last: RetryOutcome | undefined;
  /** Set when a wait was cut to the deadline: the attempt there is allowed ('try-once-more'). */
  let lastChance = false;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) return stopped('aborted', last);
    const deadline = deadlineNow();
    if (Date.now() >= deadline && !lastChance) return stopped('deadline', last);
    const outcome = await options.attempt(payload, { signal, deadline, attempt });
    if (outcome.verdict === 'delivered') return outcome;
    if (outcome.verdict === 'permanent') return { verdict: 'permanent', outcome };
    last = outcome;
    // Cut off by the caller: not the server's failure, and no reason to wait.
    if (signal.aborted) return stopped('aborted', last);
    if (attempt >= maxAttempts) return stopped('attempts', last);
    let waitMs =
      outcome.retryAfterMs === undefined
        ? backoffDelay(attempt, options.policy, options.random)
        : Math.min(outcome.retryAfterMs, options.policy.maxRetryAfterMs);
    const left = deadlineNow() - Date.now();
    if (waitMs >= left) {
      if (options.atDeadline !== 'try-once-more' || left <= 0 || lastChance) {
        return stopped('deadline', last);
      }
      waitMs = left;
      lastChance = true;
    }
    const decision = options.onRetry?.({ payload, outcome, attempt, waitMs });
    if (decision === 'stop') return stopped('hook', last);
    // A hook's wake signal ends the wait early; the caller's signal always does too.
    const wake =
      decision?.wakeSignal === undefined ? signal : AbortSignal.any([signal, decision.wakeSignal]);
    await abortableSleep(decision?.waitMs ?? waitMs, wake, options.keepAlive ?? false);
  }
}

function stopped(
  why: 'aborted' | 'deadline' | 'attempts' | 'hook',
  last: RetryOutcome | undefined,
): DeliveryResult {
  return last === undefined ? { verdict: 'stopped', why } : { verdict: 'stopped', why, last };
}
