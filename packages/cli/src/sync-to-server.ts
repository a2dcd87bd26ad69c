/**
 * Replays recorded runs to a livestep server: batches in order, read from the source as they are
 * sent (bounded memory), retried like the HTTP sink (backoff, jitter, Retry-After), halved on
 * 413. Ingestion is idempotent by event id, so a sync can be repeated or resumed safely.
 *
 * A sync is interactive: every retry is announced as it happens, and when the server has taken
 * nothing for `giveUpAfterMs` the sync stops, says what was stored, and how to resume (the same
 * command again: what is stored is skipped by its ids).
 */
import {
  type Batch,
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  describeNetworkError,
  judgeStatus,
  PROTOCOL_VERSION,
  parseRetryAfter,
  type RetryPolicy,
  resolveIngestUrl,
} from '@livestep/core';
import type { RecordChunk } from './jsonl-record-reader.js';

/** Events per request: the size the live pipeline uses. */
const SYNC_BATCH_EVENTS = 1_000;
/** One request's wait for an answer; as the HTTP sink's. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Stop when the server has taken nothing for this long, rather than retry for many minutes. */
export const DEFAULT_GIVE_UP_AFTER_MS = 60_000;
/** A server message is cut to this length (after any token in it is redacted). */
const MAX_MESSAGE_LENGTH = 300;
/**
 * 413s in a row after which a batch is no longer halved but refused whole: a server that refuses
 * everything gets a few dozen requests, not one per event.
 */
const MAX_TOO_LARGE_IN_A_ROW = 16;

/** A batch is stored when the server says so: a 204, or a complete JSON object (a cut-off body or a proxy's HTML page is not). */
function isAcknowledgement(status: number, body: string): boolean {
  if (status === 204) return true;
  try {
    const parsed = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
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
  const post = target.fetch ?? globalThis.fetch;
  // Redacted before anything is cut, so that no part of a token echoed by a server is shown.
  const redact = (text: string) =>
    target.token ? text.split(target.token).join('[redacted]') : text;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let fraction = 0;
  let lastTakenAt = Date.now();
  let tooLargeInARow = 0;
  const report = () =>
    listeners.onProgress?.({ events: result.delivered + result.failed, fraction });

  async function send(batch: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let message = '';
      let acknowledged = false;
      let retryAfter: number | undefined;
      try {
        const response = await post(endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify(batch),
          redirect: 'manual',
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = response.status;
        const text = await response.text().catch(() => '');
        acknowledged = isAcknowledgement(status, text);
        message = redact(text).slice(0, MAX_MESSAGE_LENGTH);
        retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      } catch (error) {
        status = 0;
        message = redact(describeNetworkError(error));
      }
      let verdict = status === 0 ? 'retry' : judgeStatus(status);
      let unacknowledged = false;
      if (verdict === 'delivered' && !acknowledged) {
        // Sent again: what is stored already is skipped by its ids.
        verdict = 'retry';
        unacknowledged = true;
      }
      if (verdict === 'delivered') {
        lastTakenAt = Date.now();
        tooLargeInARow = 0;
        result.delivered += batch.events.length;
        return report();
      }
      if (verdict === 'too_large') tooLargeInARow++;
      if (
        verdict === 'too_large' &&
        batch.events.length > 1 &&
        tooLargeInARow <= MAX_TOO_LARGE_IN_A_ROW
      ) {
        lastTakenAt = Date.now();
        const middle = Math.ceil(batch.events.length / 2);
        await send({ ...batch, events: batch.events.slice(0, middle) });
        await send({ ...batch, events: batch.events.slice(middle) });
        return;
      }
      const reason =
        status === 0
          ? `cannot reach ${endpoint.host} (${message})`
          : unacknowledged
            ? `${endpoint.host} answered ${status} without acknowledging the batch (its body is not a complete JSON object)`
            : `${endpoint.host} answered ${status}${message ? `: ${message}` : ''}`;
      if (verdict !== 'retry') {
        result.failed += batch.events.length;
        result.errors.push(
          `run "${batch.run.name}": ${batch.events.length} events not stored: ${reason}`,
        );
        return report();
      }
      const silentFor = Date.now() - lastTakenAt;
      if (silentFor >= giveUpAfterMs) {
        result.failed += batch.events.length;
        throw new GiveUp(
          `livestep: stopped: ${reason}, and it has taken nothing for ${Math.round(silentFor / 1000)} s. ${result.delivered} events were stored; the rest of this source was not sent. Run the same command again once the server answers: what is stored already is skipped (by event id).`,
        );
      }
      const wait = Math.min(
        retryAfter === undefined ? backoffDelay(attempt, policy) : retryAfter,
        policy.maxRetryAfterMs,
        Math.max(0, giveUpAfterMs - silentFor),
      );
      listeners.onRetry?.(
        `livestep: ${reason}; retrying in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 1}; stops after ${Math.round(giveUpAfterMs / 1000)} s without progress)`,
      );
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
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
