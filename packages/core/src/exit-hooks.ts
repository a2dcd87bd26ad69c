/**
 * Exit hooks end the runs a process leaves open, so a run never stays "running" forever:
 *
 * - the event loop ran dry without `end()` (beforeExit): completed (failed if exitCode is set);
 * - SIGINT / SIGTERM: interrupted, then the signal is raised again so the exit code is the usual
 *   one (unless the program has its own handler for it, which then decides);
 * - an uncaught exception or unhandled rejection: failed, with the error; then the error is
 *   printed and the process exits with code 1, as Node would (unless the program handles it);
 * - `process.exit()` with a run open: done is recorded and what is queued is written
 *   synchronously by the sinks that can (files); nothing asynchronous can finish at that point.
 *
 * Listeners are installed while at least one run is open and removed afterwards, so a script
 * with nothing open behaves exactly as if livestep were not there.
 */
import type { RunStatus } from './protocol.js';

/** What the hooks need from a run. */
export interface ExitParticipant {
  /** True until `end()` was called. */
  isOpen(): boolean;
  /** Ends the run (if still open) and resolves once its delivery finished or the deadline passed. */
  endForExit(status: RunStatus, error?: unknown): Promise<unknown>;
  /** Records `done` if still open and writes what is queued synchronously. */
  endSynchronously(status: RunStatus): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

const participants = new Set<ExitParticipant>();
let installed = false;
let handlingCrash = false;

export function registerForExit(participant: ExitParticipant): void {
  participants.add(participant);
  install();
}

export function unregisterForExit(participant: ExitParticipant): void {
  participants.delete(participant);
  if (participants.size === 0) uninstall();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('beforeExit', onBeforeExit);
  process.on('exit', onExit);
  process.on('uncaughtException', onUncaughtException);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('beforeExit', onBeforeExit);
  process.off('exit', onExit);
  if (!handlingCrash) process.off('uncaughtException', onUncaughtException);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function endAll(status: RunStatus, error?: unknown): Promise<unknown> {
  return Promise.all([...participants].map((participant) => participant.endForExit(status, error)));
}

function onBeforeExit(): void {
  const open = [...participants].filter((participant) => participant.isOpen());
  if (open.length === 0) return;
  const status: RunStatus = process.exitCode ? 'failed' : 'completed';
  // Ending schedules delivery, which keeps the loop alive until it is done; then beforeExit fires
  // again with nothing open and the process exits.
  for (const participant of open) void participant.endForExit(status);
}

function onSignal(signal: NodeJS.Signals): void {
  // A second Ctrl-C while we flush must stop the process at once: take our handlers off first.
  for (const name of SIGNALS) process.off(name, onSignal);
  void endAll('interrupted').finally(() => {
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function onUncaughtException(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  const programHandlesIt = process.listenerCount('uncaughtException') > 1;
  if (handlingCrash) {
    // A second crash while the first is being recorded: report it and keep going with the exit.
    console.error(error);
    return;
  }
  handlingCrash = true;
  void endAll('failed', error).finally(() => {
    handlingCrash = false;
    if (programHandlesIt) return;
    process.off('uncaughtException', onUncaughtException);
    const label =
      origin === 'unhandledRejection' ? 'Unhandled promise rejection' : 'Uncaught exception';
    console.error(`${label}:`, error);
    process.exit(1);
  });
}

function onExit(code: number): void {
  const status: RunStatus = code === 0 ? 'completed' : 'failed';
  for (const participant of participants) participant.endSynchronously(status);
}
