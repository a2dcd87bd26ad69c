/**
 * Replays recorded runs to a livestep server: batches in order, read from the source as they are
 * sent (bounded memory), through core's delivery kit (deliverWithRetry: backoff, jitter,
 * Retry-After, halved on 413). This file keeps only the sync's own rules: what counts as an
 * acknowledgement, when to halve, and when to give up. Ingestion is idempotent by event id, so a
 * sync can be repeated or resumed safely.
 *
 * A sync is interactive: every retry is announced as it happens; when the server has taken
 * nothing for `giveUpAfterMs` the sync stops, says what was stored, and how to resume (the same
 * command again: what is stored is skipped by its ids). `signal` (Ctrl-C) ends it at once, a wait
 * to retry included.
 */
import type { Batch } from '@livestep/core';
import { PROTOCOL_VERSION } from '@livestep/core/protocol';
import {
  createRedactor,
  DEFAULT_RETRY_POLICY,
  type DeliveryResult,
  deliverWithRetry,
  judgeStatus,
  outcomeWithoutAnswer,
  type PostResult,
  parseRetryAfter,
  postTo,
  quoteServerMessage,
  type RequestOutcome,
  type RetryPolicy,
  resolveIngestUrl,
} from '@livestep/core/sink-kit';
import type { RecordChunk } from './jsonl-record-reader.js';

/** Events per request: the size the live pipeline uses. */
const SYNC_BATCH_EVENTS = 1_000;
/** One request's wait for an answer; as the HTTP sink's. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Stop when the server has taken nothing for this long, rather than retry for many minutes. */
export const DEFAULT_GIVE_UP_AFTER_MS = 60_000;
/**
 * 413s in a row after which a batch is no longer halved but refused whole: a server that refuses
 * everything gets a few dozen requests, not one per event.
 */
const MAX_TOO_LARGE_IN_A_ROW = 16;

/** A batch is stored when the server says so: a 204, or a complete JSON object (a cut-off body or a proxy's HTML page is not). */
function isAcknowledgement(answer: Extract<PostResult, { answered: true }>): boolean {
  if (answer.status === 204) return true;
  if (!answer.complete) return false;
  try {
    const parsed = JSON.parse(answer.body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** The sync's status rules (as the HTTP sink's): the rest is core's delivery kit. */
function judgeServerAnswer(
  answer: Extract<PostResult, { answered: true }>,
  host: string,
  redact: (text: string) => string,
): RequestOutcome {
  const { status } = answer;
  const verdict = judgeStatus(status);
  if (verdict === 'delivered') {
    if (isAcknowledgement(answer)) return { verdict: 'delivered' };
    // Sent again: what is stored already is skipped by its ids.
    return {
      verdict: 'retry',
      reason: `${host} answered ${status} without acknowledging the batch (its body is not a complete JSON object)`,
    };
  }
  const message = quoteServerMessage(answer.body, redact);
  const reason = `${host} answered ${status}${message ? `: ${message}` : ''}`;
  if (verdict === 'retry') {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after']);
    return retryAfterMs === undefined ? { verdict, reason } : { verdict, reason, retryAfterMs };
  }
  const stopsPosting = verdict === 'unauthorized' || verdict === 'redirected';
  return { verdict: 'permanent', reason, status, message, stopsPosting };
}

export interface SyncProgress {
  /** Events handled so far (stored or failed). */
  events: number;
  /** How much of the source was read, from 0 to 1. */
  fraction: number;
}

export interface SyncResult {
  delivered: number;
  failed: number;
  errors: string[];
  /** The runs met, by name, in order. */
  runNames: string[];
  /** Set when the sync stopped early: why, and how to resume. */
  stopped?: string;
}

export interface ServerTarget {
  url: string;
  token?: string;
  allowInsecureHttp?: boolean;
  retryPolicy?: Partial<RetryPolicy>;
  giveUpAfterMs?: number;
  fetch?: typeof fetch;
  /** Aborting it (Ctrl-C) ends the sync at once, a wait to retry or a request in flight included. */
  signal?: AbortSignal;
}

export interface SyncListeners {
  onProgress?: (progress: SyncProgress) => void;
  /** A line about a retry that is about to wait (the server is down, busy or slow). */
  onRetry?: (message: string) => void;
}

class GiveUp extends Error {}

export function emptyResult(): SyncResult {
  return { delivered: 0, failed: 0, errors: [], runNames: [] };
}

export async function syncToServer(
  chunks: AsyncIterable<RecordChunk>,
  target: ServerTarget,
  listeners: SyncListeners = {},
  result: SyncResult = emptyResult(),
): Promise<SyncResult> {
  const endpoint = resolveIngestUrl(target.url, target.allowInsecureHttp);
  const policy = { ...DEFAULT_RETRY_POLICY, ...target.retryPolicy };
  const giveUpAfterMs = target.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS;
  // A fetch keeps the process alive while a request is in flight: the sync is the program's work.
  const post = target.fetch ?? globalThis.fetch;
  const redact = createRedactor([target.token]);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let fraction = 0;
  let lastTakenAt = Date.now();
  let tooLargeInARow = 0;
  const report = () =>
    listeners.onProgress?.({ events: result.delivered + result.failed, fraction });

  async function attempt(batch: Batch, signal: AbortSignal): Promise<RequestOutcome> {
    const answer = await postTo(
      endpoint,
      { headers, body: JSON.stringify(batch), timeoutMs: REQUEST_TIMEOUT_MS, signal },
      post,
    );
    if (!answer.answered) {
      return outcomeWithoutAnswer(
        answer,
        { host: endpoint.host, timeoutMs: REQUEST_TIMEOUT_MS },
        redact,
      );
    }
    return judgeServerAnswer(answer, endpoint.host, redact);
  }

  /** Counts how a batch (or a half of one) ended. */
  function settle(batch: Batch, end: DeliveryResult): void {
    const count = batch.events.length;
    if (end.verdict === 'delivered') {
      lastTakenAt = Date.now();
      tooLargeInARow = 0;
      result.delivered += count;
    } else {
      result.failed += count;
      if (end.verdict === 'permanent') {
        result.errors.push(
          `run "${batch.run.name}": ${count} events not stored: ${end.outcome.reason}`,
        );
      }
    }
    report();
  }

  async function send(batch: Batch): Promise<void> {
    const end = await deliverWithRetry(batch, {
      attempt: (payload, { signal }) => attempt(payload, signal),
      policy,
      ...(target.signal !== undefined && { signal: target.signal }),
      // "Nothing taken for giveUpAfterMs": the deadline moves on with every batch stored.
      deadline: () => lastTakenAt + giveUpAfterMs,
      atDeadline: 'try-once-more',
      keepAlive: true,
      split: (payload, outcome) => {
        if (outcome.status !== 413) return undefined;
        tooLargeInARow++;
        if (payload.events.length < 2 || tooLargeInARow > MAX_TOO_LARGE_IN_A_ROW) return undefined;
        // The server answered: that is progress, even if it took nothing yet.
        lastTakenAt = Date.now();
        const middle = Math.ceil(payload.events.length / 2);
        return [
          { ...payload, events: payload.events.slice(0, middle) },
          { ...payload, events: payload.events.slice(middle) },
        ];
      },
      onRetry: ({ outcome, attempt, waitMs }) => {
        listeners.onRetry?.(
          `livestep: ${outcome.reason}; retrying in ${(waitMs / 1000).toFixed(1)} s (attempt ${attempt + 1}; stops after ${Math.round(giveUpAfterMs / 1000)} s without progress)`,
        );
      },
      onSettled: settle,
    });
    if (end.verdict !== 'stopped') return;
    if (end.why === 'aborted') {
      throw new GiveUp(
        `livestep: interrupted. ${result.delivered} events were stored; the rest of this source was not sent. Run the same command again to go on: what is stored already is skipped (by event id).`,
      );
    }
    const silentFor = Date.now() - lastTakenAt;
    const reason = end.last?.reason ?? `${endpoint.host} took nothing`;
    throw new GiveUp(
      `livestep: stopped: ${reason}, and it has taken nothing for ${Math.round(silentFor / 1000)} s. ${result.delivered} events were stored; the rest of this source was not sent. Run the same command again once the server answers: what is stored already is skipped (by event id).`,
    );
  }

  try {
    for await (const chunk of chunks) {
      if (!result.runNames.includes(chunk.run.name)) result.runNames.push(chunk.run.name);
      for (let start = 0; start < chunk.events.length; start += SYNC_BATCH_EVENTS) {
        await send({
          protocol: PROTOCOL_VERSION,
          run: chunk.run,
          events: chunk.events.slice(start, start + SYNC_BATCH_EVENTS),
        });
      }
      fraction = chunk.fraction;
      report();
    }
  } catch (error) {
    if (!(error instanceof GiveUp)) throw error;
    result.stopped = error.message;
  }
  return result;
}
