/** Runs for tests: in memory, no exit hooks, no git, warnings collected. */
import {
  createMemorySink,
  type MemorySink,
  type Run,
  type StartRunOptions,
  startRun,
} from '@livestep/core';

export interface TestRunOptions {
  sink: MemorySink;
  warnings: string[];
  runOptions: StartRunOptions;
}

/** Options for a run a loop starts itself, and the sink and warnings to look at afterwards. */
export function testRunOptions(): TestRunOptions {
  const sink = createMemorySink();
  const warnings: string[] = [];
  return {
    sink,
    warnings,
    runOptions: {
      experiment: 'test',
      name: 'test-run',
      sinks: [sink],
      exitHooks: false,
      collectGit: false,
      collectMachine: false,
      onWarning: (message) => warnings.push(message),
    },
  };
}

/** A run started here, for loops given `options.run`. */
export function startTestRun(): { run: Run; sink: MemorySink; warnings: string[] } {
  const { sink, warnings, runOptions } = testRunOptions();
  return { run: startRun(runOptions), sink, warnings };
}

/** A writable that keeps what is written; `isTTY` and `columns` make it look like a terminal. */
export function captureStream(terminal?: { columns?: number }): {
  write(text: string): boolean;
  text(): string;
  writes: string[];
  isTTY?: boolean;
  columns?: number;
} {
  const writes: string[] = [];
  const stream = {
    writes,
    write(text: string) {
      writes.push(String(text));
      return true;
    },
    text: () => writes.join(''),
  };
  if (terminal === undefined) return stream;
  return { ...stream, isTTY: true, columns: terminal.columns ?? 80 };
}

/** Waits for the next turn of the event loop (after setImmediate callbacks queued before). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** Keeps the CPU busy, so time passes inside a loop that never yields. */
export function busyFor(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until) {
    // spin
  }
}
