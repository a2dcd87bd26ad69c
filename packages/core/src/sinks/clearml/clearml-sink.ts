/**
 * The ClearML sink: records a run as a ClearML task over the API server's REST API (backends.md
 * A), on core's delivery kit (the background poster, the retry loop).
 *
 * - `send` turns the batch into ClearML events (clearml-events.ts), queues them and returns:
 *   training never waits on ClearML. The poster sends, strictly in order: `auth.login` (the keys
 *   for a token), the project (got or created), `tasks.create` and `tasks.started`, then
 *   `events.add_batch` requests as JSON lines (never compressed: the server answers 415 to any
 *   Content-Encoding) of at most 15 MiB, `tasks.edit_hyper_params` for params, image uploads to
 *   the file server, and at the end `tasks.completed`, `tasks.failed` or `tasks.stopped`.
 * - A 401 (the token expired) logs in again once and resends; refused keys stop posting.
 * - Retries are the kit's (backoff, jitter, Retry-After); ClearML's status rules are in
 *   clearml-request.ts. What ClearML refuses is counted as rejected and warned about once.
 * - At close, what ClearML has not taken by the deadline is counted as failed and said in the
 *   flush report (the run folder has it; `livestep sync <run folder> --to clearml` sends it into
 *   the same task, found by the run's system tag).
 */
import { BackgroundPoster, posterSink } from '../../delivery/background-poster.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { DEFAULT_RETRY_POLICY } from '../../delivery/retry-policy.js';
import type { Sink } from '../../pipeline/sink.js';
import { resolveClearmlConfig } from './clearml-config.js';
import { ClearmlSession } from './clearml-request.js';
import {
  CLEARML_MAX_REQUEST_BYTES,
  CLEARML_RETRY_WARNING_INTERVAL_MS,
  CLEARML_STATUS_RESERVE_MS,
  type ClearmlSinkOptions,
  DEFAULT_CLEARML_MAX_QUEUED,
  DEFAULT_CLEARML_POST_INTERVAL_MS,
  DEFAULT_CLEARML_REQUEST_TIMEOUT_MS,
} from './clearml-sink-options.js';
import { CLEARML_NOT_SENT_KINDS, ClearmlState } from './clearml-state.js';

export { clearmlSeries } from './clearml-events.js';
export type { ClearmlSinkOptions } from './clearml-sink-options.js';

function positive(name: string, value: number, unit: string, allowZero = false): number {
  if (typeof value !== 'number' || !(allowZero ? value >= 0 : value > 0) || Number.isNaN(value)) {
    throw new TypeError(
      `livestep: the ClearML sink's ${name} must be a number ${allowZero ? '>= 0' : '> 0'} (${unit}), got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A sink that records the run into ClearML as a task. Reads what the options leave out from the
 * environment (CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY or
 * CLEARML_AUTH_TOKEN, CLEARML_WEB_HOST, CLEARML_FILES_HOST); throws a clear error when the host
 * or the credentials are missing or cannot be used.
 */
export function createClearmlSink(options: ClearmlSinkOptions = {}): Sink {
  const config = resolveClearmlConfig(options);
  const nonFinite = options.nonFiniteValue ?? 'skip';
  if (nonFinite !== 'skip' && !(typeof nonFinite === 'number' && Number.isFinite(nonFinite))) {
    throw new TypeError(
      `livestep: the ClearML sink's nonFiniteValue must be 'skip' or a finite number to send instead of NaN and ±inf, got ${String(nonFinite)}`,
    );
  }
  const maxQueued = options.maxQueued ?? DEFAULT_CLEARML_MAX_QUEUED;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new TypeError(
      `livestep: the ClearML sink's maxQueued must be a whole number >= 1 (items kept waiting), got ${String(maxQueued)}`,
    );
  }
  const session = new ClearmlSession(config.secrets);
  const requestTimeoutMs = positive(
    'requestTimeoutMs',
    options.requestTimeoutMs ?? DEFAULT_CLEARML_REQUEST_TIMEOUT_MS,
    'milliseconds',
  );
  const poster = new BackgroundPoster(
    {
      tracker: 'ClearML',
      policy: { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy },
      redact: session.redact,
      warn: options.onWarning ?? emitLivestepWarning,
      retryWarningIntervalMs: CLEARML_RETRY_WARNING_INTERVAL_MS,
      closeReserveMs: CLEARML_STATUS_RESERVE_MS,
      leftAtClose: (left, lastError) =>
        `livestep: the run ended before ClearML took ${left} events (last error: ${lastError}); they are not in ClearML, but the run folder has every one: \`livestep sync <run folder> --to clearml\` sends them into the same task`,
    },
    requestTimeoutMs,
  );
  const state = new ClearmlState({
    config,
    poster,
    transport: { config, session, fetch: options.fetch, timeoutMs: requestTimeoutMs },
    nonFinite,
    maxQueued,
    postIntervalMs: positive(
      'postIntervalMs',
      options.postIntervalMs ?? DEFAULT_CLEARML_POST_INTERVAL_MS,
      'milliseconds; 0 posts at once',
      true,
    ),
    maxRequestBytes: positive(
      'maxRequestBytes',
      options.maxRequestBytes ?? CLEARML_MAX_REQUEST_BYTES,
      'bytes',
    ),
    onTaskLink:
      options.onTaskLink ?? ((url) => process.stderr.write(`livestep: ClearML task ${url}\n`)),
    entryPoint: process.argv[1],
  });
  poster.attach(state);

  return posterSink(`clearml:${config.origin}`, poster, (batch) => {
    const count = batch.events.filter((event) => !CLEARML_NOT_SENT_KINDS.has(event.kind)).length;
    if (!poster.accepts(count)) return;
    state.apply(batch);
    poster.kick();
  });
}
