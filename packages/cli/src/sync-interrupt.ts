/**
 * Ctrl-C during `livestep sync` to a server: the sync stops promptly (a wait to retry or a request
 * in flight is abandoned), says what was stored and how to go on, and exits 130 as an interrupted
 * command does. A second Ctrl-C exits at once. Without this, Node's default (exit on SIGINT) would
 * give no account of what was stored.
 */

/** The exit code of a command stopped by SIGINT (128 + 2), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

export interface SyncInterrupt {
  /** Aborted at the first Ctrl-C. */
  signal: AbortSignal;
  /** Gives SIGINT back to Node's default. */
  dispose(): void;
}

export function interruptOnCtrlC(): SyncInterrupt {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(INTERRUPTED_EXIT_CODE);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSignal) };
}
