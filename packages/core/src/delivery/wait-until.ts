/**
 * How a sink's flush() and close() wait for its background delivery: until a condition holds or a
 * deadline passes, looking again every IDLE_POLL_MS and at once when the delivery loop says it
 * stopped (`wake()`). The poll timer is ref'd on purpose: while a run is flushing or ending,
 * delivery is what should keep the process alive.
 */

/** How often a waiting flush() or close() looks again while delivery goes on. */
export const IDLE_POLL_MS = 50;

export interface IdleWaiter {
  /** Wakes every waiter now (the delivery loop stopped or made progress). */
  wake(): void;
  /**
   * Resolves once `isSettled()` holds or `deadline` (epoch ms) passed. `beforeEachLook` runs
   * before each wait: a sink restarts its delivery loop there if it stopped.
   */
  waitUntil(isSettled: () => boolean, deadline: number, beforeEachLook?: () => void): Promise<void>;
}

export function createIdleWaiter(pollMs: number = IDLE_POLL_MS): IdleWaiter {
  let waiters: Array<() => void> = [];
  return {
    wake() {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    },
    async waitUntil(isSettled, deadline, beforeEachLook) {
      while (!isSettled() && Date.now() < deadline) {
        beforeEachLook?.();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now())));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}
