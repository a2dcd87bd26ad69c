/**
 * Progress of a sync on stderr: a bar (cli-progress) on a terminal, one line per run otherwise
 * (CI logs), nothing when quiet.
 */
import cliProgress from 'cli-progress';
import type { SyncProgress } from './sync-to-server.js';

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
        if (last) stream.write(`${label}: ${last.done}/${last.total} events\n`);
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left`,
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
        bar.start(progress.total, 0);
        started = true;
      }
      bar.update(progress.done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
