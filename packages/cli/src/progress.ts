/**
 * Progress of a sync on stderr: a bar (cli-progress) on a terminal, one line per run otherwise
 * (CI logs), nothing when quiet.
 */
import cliProgress from 'cli-progress';
import type { SyncProgress } from './sync-to-server.js';

/** The bar's resolution: a tenth of a percent of the source. */
const PROGRESS_STEPS = 1_000;

export interface ProgressDisplay {
  update(progress: SyncProgress): void;
  stop(): void;
}

export function createProgressDisplay(
  label: string,
  mode: 'auto' | 'quiet',
  stream: NodeJS.WriteStream = process.stderr,
): ProgressDisplay {
  if (mode === 'quiet') return { update() {}, stop() {} };
  if (!stream.isTTY) {
    let last: SyncProgress | undefined;
    return {
      update(progress) {
        last = progress;
      },
      stop() {
        if (last) stream.write(`${label}: ${last.events} events\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {events} events | {eta_formatted} left`,
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      if (!started) {
        bar.start(PROGRESS_STEPS, 0, { events: 0 });
        started = true;
      }
      // The share of the source read so far: a record's size in events is known only at its end.
      bar.update(Math.round(progress.fraction * PROGRESS_STEPS), { events: progress.events });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
