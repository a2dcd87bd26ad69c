/** Runs for tests: recorded in memory, with no exit hooks, git or machine facts, warnings kept. */
import {
  createMemorySink,
  type MemorySink,
  type Run,
  type Sink,
  type StartRunOptions,
  startRun,
} from '@livestep/core';

export interface TestRun {
  run: Run;
  /** Every event of the run, in memory (always the run's first sink). */
  sink: MemorySink;
  /** Every warning the run gave (also passed on to `options.onWarning`, if given). */
  warnings: string[];
}

/**
 * Options for a run in a test (for code that starts its run itself), and the memory sink and
 * warnings to look at afterwards. `options` override the defaults (experiment `test`, name
 * `test-run`, no exit hooks, no git, no machine facts); their `sinks` come after the memory sink.
 */
export function testRunOptions(
  options: StartRunOptions = {},
): Omit<TestRun, 'run'> & { runOptions: StartRunOptions } {
  const sink = createMemorySink();
  const warnings: string[] = [];
  const runOptions: StartRunOptions = {
    experiment: 'test',
    name: 'test-run',
    exitHooks: false,
    collectGit: false,
    collectMachine: false,
    ...options,
    sinks: [sink, ...(options.sinks ?? [])],
    onWarning: (message) => {
      warnings.push(message);
      options.onWarning?.(message);
    },
  };
  return { sink, warnings, runOptions };
}

/** A run started with {@link testRunOptions}. */
export function startTestRun(options: StartRunOptions = {}): TestRun {
  const { sink, warnings, runOptions } = testRunOptions(options);
  return { run: startRun(runOptions), sink, warnings };
}

/** A sink whose every send waits for `release()`: a slow destination held still. */
export function createGatedSink(name = 'gated'): Sink & { release(): void; received: number } {
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const sink = {
    name,
    received: 0,
    async send(batch: { events: unknown[] }) {
      sink.received += batch.events.length;
      await gate;
    },
    release() {
      open();
      gate = Promise.resolve();
    },
  };
  return sink;
}
