/**
 * The Dioptra sink: records a run's metric points into a Dioptra job over its REST API
 * (backends.md B), on core's delivery kit.
 *
 * - `send` queues the batch's metric points and returns: the dispatcher, and training, never
 *   wait on Dioptra. One background poster sends them strictly in order, one
 *   `POST /api/v1/jobs/{id}/metrics` a point (the only form Dioptra takes), one request at a time
 *   and at most `maxRequestsPerSecond`; nothing is merged or dropped on the way.
 * - With a login configured it logs in first (session cookie); a 401 later (the session expired)
 *   logs in again once and resends the point; a second 401, or a refused login, stops posting.
 * - Retries are the kit's (deliverWithRetry: backoff, jitter, Retry-After); Dioptra's status
 *   rules are in dioptra-request.ts.
 * - Only metrics: params, plots, images, artifacts and annotations have no place in Dioptra's
 *   metric API (they are in the run folder); the job's status is the Dioptra worker's to set.
 * - At close, what Dioptra has not taken by the deadline is counted as failed and said in the
 *   flush report (the run folder has it; `livestep sync <run folder> --to dioptra` sends it).
 */
import { abortableSleep } from '../../delivery/abortable-sleep.js';
import { BackgroundPoster, type PosterWork, posterSink } from '../../delivery/background-poster.js';
import { emitLivestepWarning } from '../../delivery/livestep-warning.js';
import { DEFAULT_RETRY_POLICY } from '../../delivery/retry-policy.js';
import type { Sink } from '../../pipeline/sink.js';
import { type DioptraConfig, resolveDioptraConfig } from './dioptra-config.js';
import { dioptraMetricBody, PointQueue } from './dioptra-points.js';
import {
  DioptraSession,
  type DioptraTransport,
  loginToDioptra,
  postDioptraMetric,
} from './dioptra-request.js';
import {
  DEFAULT_DIOPTRA_MAX_QUEUED,
  DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND,
  DEFAULT_DIOPTRA_REQUEST_TIMEOUT_MS,
  DIOPTRA_CLOSE_RESERVE_MS,
  DIOPTRA_RETRY_WARNING_INTERVAL_MS,
  type DioptraSinkOptions,
} from './dioptra-sink-options.js';

export { decodeDioptraName, encodeDioptraName } from './dioptra-names.js';
export type { DioptraSinkOptions } from './dioptra-sink-options.js';

/** Event kinds Dioptra's metric API has no place for (they are in the run folder). */
export const DIOPTRA_NOT_SENT_KINDS: ReadonlySet<string> = new Set([
  'params',
  'plot',
  'image',
  'artifact',
  'annotation',
]);

/** The sink's work on the background poster: the login, then one point a request, in order. */
class DioptraWork implements PosterWork {
  readonly queue = new PointQueue();
  private loggedIn = false;
  /** The point at the front was answered 401 and the sink logged in again for it. */
  private reloggedForFront = false;
  private lastPostAt = Number.NEGATIVE_INFINITY;
  /** The last step sent per name: Dioptra keeps one value per name and step (an upsert, B.3). */
  private readonly lastStep = new Map<string, number>();

  constructor(
    private readonly poster: BackgroundPoster,
    private readonly transport: DioptraTransport,
    private readonly config: DioptraConfig,
    private readonly intervalMs: number,
  ) {}

  pending(): number {
    return this.queue.length;
  }

  discard(): number {
    return this.queue.discard();
  }

  async next(): Promise<boolean> {
    const { poster, transport, config } = this;
    if (config.login !== undefined && !this.loggedIn) {
      const result = await poster.post((signal, timeoutMs) =>
        loginToDioptra(transport, signal, timeoutMs),
      );
      if (result.kind === 'permanent') poster.stopAfter(result.outcome);
      this.loggedIn = result.kind === 'delivered';
      return this.loggedIn;
    }
    const event = this.queue.peek();
    if (event === undefined) return false;
    // The rate bound holds even when a flush or the close hurries: it is the server's to ask.
    const wait = this.lastPostAt + this.intervalMs - Date.now();
    if (wait > 0) {
      await abortableSleep(wait, poster.signal);
      return true;
    }
    const body = dioptraMetricBody(event);
    const json = JSON.stringify(body);
    this.lastPostAt = Date.now();
    const result = await poster.post((signal, timeoutMs) =>
      postDioptraMetric(transport, json, signal, timeoutMs),
    );
    if (result.kind === 'stopped') return false;
    if (result.kind === 'permanent') {
      const { outcome } = result;
      if (outcome.status === 401 && config.login !== undefined && !this.reloggedForFront) {
        // The session expired: log in again, once, and resend this point.
        this.reloggedForFront = true;
        this.loggedIn = false;
        return true;
      }
      if (outcome.stopsPosting) {
        poster.stopAfter(outcome);
        return false;
      }
      poster.noteError(outcome.reason);
      poster.countFailed('rejected', 1);
      poster.warnOnce(
        `refused:${outcome.status}`,
        `livestep: Dioptra refused metric "${body.name}" (${outcome.reason}); that point is counted as rejected and later points go on`,
      );
    } else {
      this.noteRepeatedStep(body.name, body.step);
    }
    this.reloggedForFront = false;
    this.queue.shift();
    return true;
  }

  private noteRepeatedStep(name: string, step: number): void {
    const last = this.lastStep.get(name);
    this.lastStep.set(name, step);
    // Only the same step again collides in Dioptra; an earlier step (an evaluation logged at an
    // older step) is a different point there.
    if (last === undefined || step !== last) return;
    this.poster.warnOnce(
      `repeated-step:${name}`,
      `livestep: metric "${name}" was logged more than once at step ${step}; Dioptra keeps one value per name and step, so the later point replaces the earlier there (the run folder has both)`,
    );
  }
}

/**
 * A sink that records the run's metrics into a Dioptra job. Reads what the options leave out
 * from the environment (DIOPTRA_API, DIOPTRA_JOB_ID, DIOPTRA_USERNAME and DIOPTRA_PASSWORD);
 * throws a clear error when the API or the job is missing or cannot be used.
 */
export function createDioptraSink(options: DioptraSinkOptions = {}): Sink {
  const config = resolveDioptraConfig(options);
  const session = new DioptraSession(config.login?.password);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_DIOPTRA_REQUEST_TIMEOUT_MS;
  const perSecond = options.maxRequestsPerSecond ?? DEFAULT_DIOPTRA_MAX_REQUESTS_PER_SECOND;
  if (typeof perSecond !== 'number' || !(perSecond > 0)) {
    throw new TypeError(
      `livestep: the Dioptra sink's maxRequestsPerSecond must be a number > 0 (Infinity for no bound), got ${String(perSecond)}`,
    );
  }
  const maxQueued = options.maxQueued ?? DEFAULT_DIOPTRA_MAX_QUEUED;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new TypeError(
      `livestep: the Dioptra sink's maxQueued must be a whole number >= 1 (points kept waiting), got ${String(maxQueued)}`,
    );
  }
  const poster = new BackgroundPoster(
    {
      tracker: 'Dioptra',
      policy: { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy },
      redact: session.redact,
      warn: options.onWarning ?? emitLivestepWarning,
      retryWarningIntervalMs: DIOPTRA_RETRY_WARNING_INTERVAL_MS,
      closeReserveMs: DIOPTRA_CLOSE_RESERVE_MS,
      leftAtClose: (left, lastError) =>
        `livestep: the run ended before Dioptra took ${left} metric points (last error: ${lastError}); they are not in Dioptra job ${config.jobId}, but the run folder has every one: \`livestep sync <run folder> --to dioptra\` sends them (Dioptra keeps one value per name and step, so points already there are not doubled)`,
    },
    requestTimeoutMs,
  );
  const transport = { config, session, fetch: options.fetch, timeoutMs: requestTimeoutMs };
  const work = new DioptraWork(poster, transport, config, 1000 / perSecond);
  poster.attach(work);

  return posterSink(`dioptra:${config.origin}/jobs/${config.jobId}`, poster, (batch) => {
    let points = 0;
    for (const event of batch.events) {
      if (event.kind === 'metric') points++;
      else if (DIOPTRA_NOT_SENT_KINDS.has(event.kind)) {
        poster.warnOnce(
          `not-sent:${event.kind}`,
          `livestep: the Dioptra sink sends metrics only (Dioptra's metric API takes scalars); ${event.kind} events are not sent to Dioptra (the run folder has them)`,
        );
      }
    }
    if (!poster.accepts(points)) return;
    for (const event of batch.events) {
      if (event.kind !== 'metric') continue;
      if (work.queue.length >= maxQueued) {
        poster.countFailed('queue_overflow', 1);
        poster.warnOnce(
          'overflow',
          `livestep: more than ${maxQueued} metric points are waiting for Dioptra (${poster.lastError ?? 'it is slow'}); newer ones are not sent to Dioptra (the run folder has them)`,
        );
        continue;
      }
      work.queue.push(event);
    }
    poster.kick();
  });
}
