/**
 * Replays recorded runs through a sink: DVC Studio's (api/live), or one of core's tracker sinks
 * (MLflow, ClearML, Dioptra). The same bodies, limits, retries and end of run as a live run, one
 * sink per run, fed chunk by chunk as the source is read. Each target's settings come from its own
 * variables (DVC_STUDIO_*, MLFLOW_*, CLEARML_*, DIOPTRA_*), as for a live run.
 *
 * The tracker sinks queue in memory and post in the background; a sync does not let a long
 * record pile up there: past BACKLOG_EVENTS waiting it lets the sink catch up before reading on.
 * While the target takes events the sync waits as long as that takes (a Dioptra job takes 100
 * points a second); when it takes nothing for `giveUpAfterMs` the sync stops and says so. Ctrl-C
 * (`signal`) stops it at once; the run in the target is then incomplete.
 */
import { createClearmlSink, createDioptraSink, createMlflowSink, type Sink } from '@livestep/core';
import { PROTOCOL_VERSION } from '@livestep/core/protocol';
import { createStudioSink } from '@livestep/studio';
import type { RecordChunk } from './jsonl-record-reader.js';
import {
  DEFAULT_GIVE_UP_AFTER_MS,
  emptyResult,
  type SyncListeners,
  type SyncResult,
} from './sync-to-server.js';

/** Events a sink may hold waiting before the sync lets it catch up (far below its own bounds). */
const BACKLOG_EVENTS = 50_000;
/** After Ctrl-C or giving up, the sink's close gets this long (to say what it could not send). */
const STOP_CLOSE_MS = 2_000;

export interface SinkTargetContext {
  environment: NodeJS.ProcessEnv;
  /** Warnings of the sink: printed with the sync's errors. */
  onWarning: (message: string) => void;
  /** Lines worth seeing that are not problems (a task's web address). */
  onNotice: (message: string) => void;
}

export interface SinkTarget {
  /** As it is shown: `DVC Studio`, `MLflow`... */
  label: string;
  /** A sink for one run; throws a clear error when the target's settings cannot be used. */
  create(run: RecordChunk['run'], folder: string | undefined, context: SinkTargetContext): Sink;
}

export interface SinkSyncOptions {
  /** Stop when the target has taken nothing for this long (default 60 s). */
  giveUpAfterMs?: number;
  /** Aborting it (Ctrl-C) stops the sync at once. */
  signal?: AbortSignal;
}

/** The targets `--to` names besides a livestep server's URL (no prototype: `--to constructor` is no target). */
export const SINK_TARGETS: Readonly<Record<string, SinkTarget>> = Object.assign(
  Object.create(null),
  {
    studio: {
      label: 'DVC Studio',
      create: (run, folder, { environment, onWarning }) =>
        createStudioSink({
          environment,
          experimentName: run.name,
          ...(folder !== undefined && { directory: folder }),
          onWarning,
        }),
    },
    mlflow: {
      label: 'MLflow',
      create: (_run, _folder, { environment, onWarning }) =>
        createMlflowSink({ environment, onWarning, sourceName: 'livestep sync' }),
    },
    clearml: {
      label: 'ClearML',
      create: (_run, _folder, { environment, onWarning, onNotice }) =>
        createClearmlSink({
          environment,
          onWarning,
          onTaskLink: (url) => onNotice(`livestep: ClearML task ${url}`),
        }),
    },
    dioptra: {
      label: 'Dioptra',
      create: (_run, _folder, { environment, onWarning }) =>
        createDioptraSink({ environment, onWarning }),
    },
  } satisfies Record<string, SinkTarget>,
);

interface OpenRun {
  id: string;
  name: string;
  sink: Sink | undefined;
  events: number;
  warnings: string[];
}

export async function syncThroughSink(
  chunks: AsyncIterable<RecordChunk>,
  target: SinkTarget,
  environment: NodeJS.ProcessEnv,
  listeners: SyncListeners = {},
  result: SyncResult = emptyResult(),
  options: SinkSyncOptions = {},
): Promise<SyncResult> {
  const giveUpAfterMs = options.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS;
  const { signal } = options;
  let current: OpenRun | undefined;
  let fraction = 0;
  /** The target took nothing while the sync waited for a backlog: it is not waited for again. */
  let stalled = false;
  const report = () =>
    listeners.onProgress?.({ events: result.delivered + result.failed, fraction });
  const pendingOf = (sink: Sink) => sink.report?.().pending ?? 0;
  // The sinks' sockets and retry waits do not keep a process alive (a training script must be
  // able to end); here delivery is the command's whole work, so the sync keeps it alive.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    return await replay();
  } finally {
    clearInterval(keepAlive);
  }

  async function replay(): Promise<SyncResult> {
    /**
     * Lets the sink deliver until at most `limit` events wait; false when it took nothing for
     * giveUpAfterMs (or Ctrl-C came).
     */
    async function drain(sink: Sink, limit: number): Promise<boolean> {
      let before = pendingOf(sink);
      while (before > limit && !signal?.aborted) {
        await Promise.race([
          sink.flush?.({ deadline: Date.now() + giveUpAfterMs }),
          ...(signal
            ? [new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]
            : []),
        ]);
        const after = pendingOf(sink);
        if (after >= before) return false;
        before = after;
      }
      return !signal?.aborted;
    }

    /** Waits for the target to take the run, and counts what it did not. */
    async function finish(open: OpenRun): Promise<void> {
      if (open.sink !== undefined) {
        const drained = !stalled && (await drain(open.sink, 0));
        if (!drained && result.stopped === undefined) {
          result.stopped = signal?.aborted
            ? `livestep: interrupted; the run "${open.name}" in ${target.label} is incomplete (a new sync sends it whole again)`
            : `livestep: stopped: ${target.label} took nothing for ${Math.round(giveUpAfterMs / 1000)} s (${open.sink.report?.().lastError ?? 'no answer'}); run the same command again once it answers`;
        }
        await open.sink.close?.({
          deadline: Date.now() + (drained ? giveUpAfterMs : STOP_CLOSE_MS),
        });
        const state = open.sink.report?.();
        const failed = Object.values(state?.failedByReason ?? {}).reduce(
          (sum, count) => sum + count,
          0,
        );
        const undelivered = Math.min(open.events, (state?.pending ?? 0) + failed);
        result.delivered += open.events - undelivered;
        result.failed += undelivered;
        if (undelivered > 0) {
          result.errors.push(
            `run "${open.name}": ${undelivered} events did not reach ${target.label}${state?.lastError ? `: ${state.lastError}` : ''}`,
          );
        }
      }
      for (const warning of open.warnings) result.errors.push(warning);
      report();
    }

    for await (const chunk of chunks) {
      if (current?.id !== chunk.run.id) {
        if (current !== undefined) await finish(current);
        current = undefined;
        if (result.stopped !== undefined || signal?.aborted) break;
        if (!result.runNames.includes(chunk.run.name)) result.runNames.push(chunk.run.name);
        const warnings: string[] = [];
        let sink: Sink | undefined;
        try {
          sink = target.create(chunk.run, chunk.folder, {
            environment,
            // "Retrying" is news while it happens (as the server sync prints it); the rest is
            // said with the run's summary.
            onWarning: (message) =>
              / retrying with backoff/.test(message)
                ? listeners.onRetry?.(message)
                : warnings.push(message),
            onNotice: (message) => listeners.onRetry?.(message),
          });
        } catch (error) {
          result.errors.push((error as Error).message);
        }
        current = { id: chunk.run.id, name: chunk.run.name, sink, events: 0, warnings };
      }
      current.events += chunk.events.length;
      if (current.sink === undefined) result.failed += chunk.events.length;
      else {
        await current.sink.send({
          protocol: PROTOCOL_VERSION,
          run: chunk.run,
          events: chunk.events,
        });
        if (
          pendingOf(current.sink) > BACKLOG_EVENTS &&
          !(await drain(current.sink, BACKLOG_EVENTS / 2))
        ) {
          stalled = true;
          result.stopped = signal?.aborted
            ? `livestep: interrupted; the run "${current.name}" in ${target.label} is incomplete and the rest of this source was not sent (a new sync sends the run whole again)`
            : `livestep: stopped: ${target.label} took nothing for ${Math.round(giveUpAfterMs / 1000)} s (${current.sink.report?.().lastError ?? 'no answer'}); the rest of this source was not sent: run the same command again once it answers`;
          break;
        }
      }
      fraction = chunk.fraction;
    }
    if (current !== undefined) await finish(current);
    return result;
  }
}

/** Replays recorded runs to DVC Studio (the `--to studio` target). */
export function syncToStudio(
  chunks: AsyncIterable<RecordChunk>,
  environment: NodeJS.ProcessEnv,
  listeners: SyncListeners = {},
  result: SyncResult = emptyResult(),
): Promise<SyncResult> {
  return syncThroughSink(chunks, SINK_TARGETS.studio!, environment, listeners, result);
}
