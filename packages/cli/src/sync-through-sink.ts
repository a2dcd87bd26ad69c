/**
 * Replays recorded runs through a sink: DVC Studio's (api/live), or one of core's tracker sinks
 * (MLflow, ClearML, Dioptra). The same bodies, limits, retries and end of run as a live run, one
 * sink per run, fed chunk by chunk as the source is read. Each target's settings come from its own
 * variables (DVC_STUDIO_*, MLFLOW_*, CLEARML_*, DIOPTRA_*), as for a live run.
 *
 * The tracker sinks queue in memory and post in the background; a sync does not let a long
 * record pile up there: past BACKLOG_EVENTS waiting it lets the sink catch up before reading on.
 */
import { createClearmlSink, createDioptraSink, createMlflowSink, type Sink } from '@livestep/core';
import { PROTOCOL_VERSION } from '@livestep/core/protocol';
import { createStudioSink } from '@livestep/studio';
import type { RecordChunk } from './jsonl-record-reader.js';
import { emptyResult, type SyncListeners, type SyncResult } from './sync-to-server.js';

/** How long one run may take to reach the target, retries included. */
const SYNC_DEADLINE_MS = 5 * 60_000;
/** Events a sink may hold waiting before the sync lets it catch up (far below its own bounds). */
const BACKLOG_EVENTS = 50_000;

export interface SinkTarget {
  /** As it is shown: `DVC Studio`, `MLflow`... */
  label: string;
  /** A sink for one run; throws a clear error when the target's settings cannot be used. */
  create(
    run: RecordChunk['run'],
    folder: string | undefined,
    environment: NodeJS.ProcessEnv,
    onWarning: (message: string) => void,
  ): Sink;
}

/** The targets `--to` names besides a livestep server's URL. */
export const SINK_TARGETS: Record<string, SinkTarget> = {
  studio: {
    label: 'DVC Studio',
    create: (run, folder, environment, onWarning) =>
      createStudioSink({
        environment,
        experimentName: run.name,
        ...(folder !== undefined && { directory: folder }),
        onWarning,
      }),
  },
  mlflow: {
    label: 'MLflow',
    create: (_run, _folder, environment, onWarning) =>
      createMlflowSink({ environment, onWarning, sourceName: 'livestep sync' }),
  },
  clearml: {
    label: 'ClearML',
    create: (_run, _folder, environment, onWarning) =>
      createClearmlSink({
        environment,
        onWarning,
        onTaskLink: (url) => onWarning(`livestep: ClearML task ${url}`),
      }),
  },
  dioptra: {
    label: 'Dioptra',
    create: (_run, _folder, environment, onWarning) =>
      createDioptraSink({ environment, onWarning }),
  },
};

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
): Promise<SyncResult> {
  let current: OpenRun | undefined;
  let fraction = 0;
  const report = () =>
    listeners.onProgress?.({ events: result.delivered + result.failed, fraction });

  /** Waits for the target to take the run, and counts what it did not. */
  async function finish(open: OpenRun): Promise<void> {
    if (open.sink !== undefined) {
      await open.sink.close?.({ deadline: Date.now() + SYNC_DEADLINE_MS });
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
      if (!result.runNames.includes(chunk.run.name)) result.runNames.push(chunk.run.name);
      const warnings: string[] = [];
      let sink: Sink | undefined;
      try {
        sink = target.create(chunk.run, chunk.folder, environment, (message) =>
          warnings.push(message),
        );
      } catch (error) {
        result.errors.push((error as Error).message);
      }
      current = { id: chunk.run.id, name: chunk.run.name, sink, events: 0, warnings };
    }
    current.events += chunk.events.length;
    if (current.sink === undefined) result.failed += chunk.events.length;
    else {
      await current.sink.send({ protocol: PROTOCOL_VERSION, run: chunk.run, events: chunk.events });
      if ((current.sink.report?.().pending ?? 0) > BACKLOG_EVENTS) {
        await current.sink.flush?.({ deadline: Date.now() + SYNC_DEADLINE_MS });
      }
    }
    fraction = chunk.fraction;
  }
  if (current !== undefined) await finish(current);
  return result;
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
