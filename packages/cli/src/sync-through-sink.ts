/**
 * Replays recorded runs to DVC Studio (api/live) through the Studio sink: the same bodies, limits,
 * retries and `done` as a live run, one sink per run, fed chunk by chunk as the source is read.
 * The Studio settings (token, URL, repository, baseline) come from the DVC_STUDIO_* variables, as
 * for a live run.
 */
import { PROTOCOL_VERSION } from '@livestep/core/protocol';
import { createStudioSink } from '@livestep/studio';
import type { RecordChunk } from './jsonl-record-reader.js';
import { emptyResult, type SyncListeners, type SyncResult } from './sync-to-server.js';

/** How long one run may take to reach Studio, retries included. */
const STUDIO_SYNC_DEADLINE_MS = 5 * 60_000;

type StudioSink = ReturnType<typeof createStudioSink>;

interface OpenRun {
  id: string;
  name: string;
  sink: StudioSink | undefined;
  events: number;
  warnings: string[];
}

export async function syncToStudio(
  chunks: AsyncIterable<RecordChunk>,
  environment: NodeJS.ProcessEnv,
  listeners: SyncListeners = {},
  result: SyncResult = emptyResult(),
): Promise<SyncResult> {
  let current: OpenRun | undefined;
  let fraction = 0;
  const report = () =>
    listeners.onProgress?.({ events: result.delivered + result.failed, fraction });

  /** Waits for Studio to take the run, and counts what it did not. */
  async function finish(open: OpenRun): Promise<void> {
    if (open.sink !== undefined) {
      await open.sink.close?.({ deadline: Date.now() + STUDIO_SYNC_DEADLINE_MS });
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
          `run "${open.name}": ${undelivered} events did not reach DVC Studio${state?.lastError ? `: ${state.lastError}` : ''}`,
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
      let sink: StudioSink | undefined;
      try {
        sink = createStudioSink({
          environment,
          experimentName: chunk.run.name,
          ...(chunk.folder !== undefined && { directory: chunk.folder }),
          onWarning: (message) => warnings.push(message),
        });
      } catch (error) {
        result.errors.push((error as Error).message);
      }
      current = { id: chunk.run.id, name: chunk.run.name, sink, events: 0, warnings };
    }
    current.events += chunk.events.length;
    if (current.sink === undefined) result.failed += chunk.events.length;
    else
      await current.sink.send({ protocol: PROTOCOL_VERSION, run: chunk.run, events: chunk.events });
    fraction = chunk.fraction;
  }
  if (current !== undefined) await finish(current);
  return result;
}
