/** A run that records into memory, with no exit hooks, git or machine info. */
import { createMemorySink, type MemorySink, type Run, startRun } from '@livestep/core';

export function startMemoryRun(
  name = 'test-run',
  experiment = 'test',
): {
  run: Run;
  sink: MemorySink;
  warnings: string[];
} {
  const sink = createMemorySink();
  const warnings: string[] = [];
  const run = startRun({
    experiment,
    name,
    sinks: [sink],
    exitHooks: false,
    collectGit: false,
    collectMachine: false,
    onWarning: (message) => warnings.push(message),
  });
  return { run, sink, warnings };
}
