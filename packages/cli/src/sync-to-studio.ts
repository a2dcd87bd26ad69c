/**
 * Replays recorded runs to DVC Studio (api/live) through the Studio sink: the same bodies, limits,
 * retries and `done` as a live run. The Studio settings (token, URL, repository, baseline) come
 * from the DVC_STUDIO_* variables, as for a live run.
 */
import { PROTOCOL_VERSION } from '@livestep/core';
import { createStudioSink } from '@livestep/studio';
import type { RecordedRun } from './dvclive-reader.js';
import type { SyncProgress, SyncResult } from './sync-to-server.js';

/** Events handed to the sink at a time: its own chunking decides what goes in one request. */
const SYNC_BATCH_EVENTS = 1_000;
/** How long one run may take to reach Studio, retries included. */
const STUDIO_SYNC_DEADLINE_MS = 5 * 60_000;

export async function syncToStudio(
  runs: RecordedRun[],
  environment: NodeJS.ProcessEnv,
  onProgress: (progress: SyncProgress) => void = () => {},
): Promise<SyncResult> {
  const total = runs.reduce((sum, run) => sum + run.events.length, 0);
  const result: SyncResult = { delivered: 0, failed: 0, errors: [] };
  for (const recorded of runs) {
    const warnings: string[] = [];
    let sink: ReturnType<typeof createStudioSink>;
    try {
      sink = createStudioSink({
        environment,
        experimentName: recorded.run.name,
        ...(recorded.folder !== undefined && { directory: recorded.folder }),
        onWarning: (message) => warnings.push(message),
      });
    } catch (error) {
      result.failed += recorded.events.length;
      result.errors.push((error as Error).message);
      continue;
    }
    for (let start = 0; start < recorded.events.length; start += SYNC_BATCH_EVENTS) {
      await sink.send({
        protocol: PROTOCOL_VERSION,
        run: recorded.run,
        events: recorded.events.slice(start, start + SYNC_BATCH_EVENTS),
      });
    }
    const deadline = Date.now() + STUDIO_SYNC_DEADLINE_MS;
    await sink.close?.({ deadline });
    const state = sink.report?.();
    const failed = Object.values(state?.failedByReason ?? {}).reduce(
      (sum, count) => sum + count,
      0,
    );
    const undelivered = Math.min(recorded.events.length, (state?.pending ?? 0) + failed);
    result.delivered += recorded.events.length - undelivered;
    result.failed += undelivered;
    if (undelivered > 0) {
      result.errors.push(
        `run "${recorded.run.name}": ${undelivered} events did not reach DVC Studio${state?.lastError ? `: ${state.lastError}` : ''}`,
      );
    }
    for (const warning of warnings) result.errors.push(warning);
    onProgress({ done: result.delivered + result.failed, total });
  }
  return result;
}
