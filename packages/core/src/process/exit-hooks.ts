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
 *
 * Runtimes compiled with Emscripten (tfjs-backend-wasm, other wasm modules) add, in Node, an
 * 'uncaughtException' listener that only rethrows. It handles nothing, but a throw from such a
 * listener makes Node exit at once with code 7, before any run is recorded. While a run is open,
 * such a listener is quieted in place (it rethrows again once nothing is open) and not counted as
 * the program handling the error.
 */
import type { RunStatus } from '../protocol/events.js';

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

/**
 * The source of a listener that only rethrows what it gets, whitespace removed: Emscripten's
 * `function (ex) { if (!(ex instanceof ExitStatus)) { throw ex; } }` (names are minified in some
 * builds). Matched on the source because calling a foreign listener to find out is not safe.
 */
const RETHROWING_LISTENER_SOURCE =
  /^function[\w$]*\(([\w$]+)\)\{if\(!\(\1instanceof[\w$]+\)\)\{?throw\1;?\}?;?\}$/;

type Listener = (...args: unknown[]) => unknown;

/** Wrappers put in place of rethrowing listeners; `listener` is the original, as for `once`. */
const quietedListeners = new WeakSet<Listener>();

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
  quietRethrowingListeners();
  process.on('newListener', onNewListener);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('newListener', onNewListener);
  process.off('beforeExit', onBeforeExit);
  process.off('exit', onExit);
  if (!handlingCrash) process.off('uncaughtException', onUncaughtException);
  for (const signal of SIGNALS) process.off(signal, onSignal);
  restoreRethrowingListeners();
}

/** True for a listener that only rethrows (see RETHROWING_LISTENER_SOURCE). */
function isRethrowingListener(listener: Listener): boolean {
  let source: string;
  try {
    source = Function.prototype.toString.call(listener);
  } catch {
    return false;
  }
  return RETHROWING_LISTENER_SOURCE.test(source.replace(/\s+/g, ''));
}

/**
 * Replaces the 'uncaughtException' listeners, keeping their order (which decides who runs
 * first). Only called when one must change, so a process without such listeners is not touched.
 */
function replaceUncaughtListeners(replace: (listener: Listener) => Listener): void {
  const listeners = process.rawListeners('uncaughtException') as Listener[];
  const replaced = listeners.map(replace);
  if (replaced.every((listener, index) => listener === listeners[index])) return;
  process.removeAllListeners('uncaughtException');
  for (const listener of replaced) process.on('uncaughtException', listener);
}

function quietRethrowingListeners(): void {
  replaceUncaughtListeners((listener) => {
    if (quietedListeners.has(listener) || !isRethrowingListener(listener)) return listener;
    const quieted = function (this: unknown, ...args: unknown[]) {
      // While a run is open our own listener records the error and exits as Node would.
      if (!installed) return listener.apply(this, args);
    };
    // As with `once`: listeners() shows the original and removeListener(original) removes this.
    Object.defineProperty(quieted, 'listener', { value: listener });
    quietedListeners.add(quieted);
    return quieted;
  });
}

function restoreRethrowingListeners(): void {
  replaceUncaughtListeners((listener) =>
    quietedListeners.has(listener)
      ? (listener as Listener & { listener: Listener }).listener
      : listener,
  );
}

/** A rethrowing listener added while a run is open (a wasm backend started later) is quieted too. */
function onNewListener(event: string | symbol, listener: Listener): void {
  if (event !== 'uncaughtException' || quietedListeners.has(listener)) return;
  // newListener fires before the listener is added: quiet it once it is in the list.
  if (isRethrowingListener(listener)) queueMicrotask(() => installed && quietRethrowingListeners());
}

/** Whether a listener other than ours (and other than a rethrowing one) takes uncaught errors. */
function programHandlesUncaught(): boolean {
  return (process.rawListeners('uncaughtException') as Listener[]).some(
    (listener) =>
      listener !== onUncaughtException &&
      !quietedListeners.has(listener) &&
      !isRethrowingListener(listener),
  );
}

function endAll(status: RunStatus, error?: unknown): Promise<unknown> {
  return Promise.all(
    [...participants].map(async (participant) => {
      try {
        await participant.endForExit(status, error);
      } catch {
        // A run that cannot end (its disk is failing) must not keep the process from exiting.
      }
    }),
  );
}

/**
 * Prints to stderr, never throwing: on a full disk stderr itself fails (ENOSPC, EFBIG), and an
 * exception here would come back as an uncaught one, and again, at 100% CPU.
 */
function printSafely(...parts: unknown[]): void {
  try {
    console.error(...parts);
  } catch {
    // Nowhere left to report to; the exit code still tells.
  }
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
  const programHandlesIt = programHandlesUncaught();
  if (handlingCrash) {
    // A second crash while the first is being recorded: report it and keep going with the exit.
    printSafely(error);
    return;
  }
  handlingCrash = true;
  void endAll('failed', error).finally(() => {
    handlingCrash = false;
    if (programHandlesIt) return;
    process.off('uncaughtException', onUncaughtException);
    const label =
      origin === 'unhandledRejection' ? 'Unhandled promise rejection' : 'Uncaught exception';
    printSafely(`${label}:`, error);
    process.exit(1);
  });
}

function onExit(code: number): void {
  const status: RunStatus = code === 0 ? 'completed' : 'failed';
  for (const participant of participants) {
    try {
      participant.endSynchronously(status);
    } catch {
      // The process is exiting anyway; a failing disk must not change how.
    }
  }
}
