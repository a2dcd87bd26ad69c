/**
 * Replays recorded runs to a livestep server: batches in order, retried like the HTTP sink
 * (backoff, jitter, Retry-After), halved on 413. Ingestion is idempotent by event id, so a sync
 * can be repeated or resumed safely.
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
import type { RecordedRun } from './dvclive-reader.js';

/** Events per request: the size the live pipeline uses. */
const SYNC_BATCH_EVENTS = 1_000;
/** A sync is interactive: give up on a batch after this many failed attempts and say why. */
const MAX_ATTEMPTS = 8;
const REQUEST_TIMEOUT_MS = 30_000;

export interface SyncProgress {
  /** Events handled so far (delivered or failed) and in all. */
  done: number;
  total: number;
}

export interface SyncResult {
  delivered: number;
  failed: number;
  errors: string[];
}

export interface ServerTarget {
  url: string;
  token?: string;
  allowInsecureHttp?: boolean;
  retryPolicy?: Partial<RetryPolicy>;
  fetch?: typeof fetch;
}

export async function syncToServer(
  runs: RecordedRun[],
  target: ServerTarget,
  onProgress: (progress: SyncProgress) => void = () => {},
): Promise<SyncResult> {
  const endpoint = resolveIngestUrl(target.url, target.allowInsecureHttp);
  const policy = { ...DEFAULT_RETRY_POLICY, ...target.retryPolicy };
  const post = target.fetch ?? globalThis.fetch;
  const redact = (text: string) =>
    target.token ? text.split(target.token).join('[redacted]') : text;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const total = runs.reduce((sum, run) => sum + run.events.length, 0);
  const result: SyncResult = { delivered: 0, failed: 0, errors: [] };
  const report = () => onProgress({ done: result.delivered + result.failed, total });

  async function send(batch: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let message = '';
      let retryAfter: number | undefined;
      try {
        const response = await post(endpoint, {
          method: 'POST',
          headers,
          body: JSON.stringify(batch),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = response.status;
        message = (await response.text().catch(() => '')).slice(0, 300);
        retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      } catch (error) {
        status = 0;
        message = describeNetworkError(error);
      }
      const verdict = status === 0 ? 'retry' : judgeStatus(status);
      if (verdict === 'delivered') {
        result.delivered += batch.events.length;
        return report();
      }
      if (verdict === 'too_large' && batch.events.length > 1) {
        const middle = Math.ceil(batch.events.length / 2);
        await send({ ...batch, events: batch.events.slice(0, middle) });
        await send({ ...batch, events: batch.events.slice(middle) });
        return;
      }
      const reason = redact(
        status === 0
          ? `cannot reach ${endpoint.host} (${message})`
          : `server answered ${status}${message ? `: ${message}` : ''}`,
      );
      if (verdict !== 'retry' || attempt >= MAX_ATTEMPTS) {
        result.failed += batch.events.length;
        result.errors.push(
          `run "${batch.run.name}": ${batch.events.length} events not stored: ${reason}`,
        );
        return report();
      }
      const wait =
        retryAfter === undefined
          ? backoffDelay(attempt, policy)
          : Math.min(retryAfter, policy.maxRetryAfterMs);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  for (const recorded of runs) {
    for (let start = 0; start < recorded.events.length; start += SYNC_BATCH_EVENTS) {
      await send({
        protocol: PROTOCOL_VERSION,
        run: recorded.run,
        events: recorded.events.slice(start, start + SYNC_BATCH_EVENTS),
      });
    }
  }
  return result;
}
