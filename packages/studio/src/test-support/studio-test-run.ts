/**
 * Runs for tests: a real @livestep/core run whose only sink is a Studio sink pointed at a fake
 * Studio, with fast retries, no post interval, no exit hooks and no git; every warning and report
 * is kept in `capturedOutput`, so a test can check that the token never appears in any of it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Run, Sink, StartRunOptions } from '@livestep/core';
import { startTestRun } from '@livestep/test-support';
import type { FakeStudio } from '@livestep/test-support/studio';
import { createStudioSink } from '../studio-sink.js';
import type { StudioSinkOptions } from '../studio-sink-options.js';

/** Looks like a real token, so a leak would be found by a plain text search. */
export const TEST_TOKEN = 'isat_TestToken0123456789abcdefSECRET';
export const TEST_BASELINE_SHA = '0123456789abcdef0123456789abcdef01234567';
export const TEST_REPOSITORY_URL = 'https://github.com/livestep/example.git';
/** Retries within milliseconds, so fault tests stay fast. */
export const FAST_RETRY_POLICY = { initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, jitter: 0.2 };

/** Outside any git repository, so paths start at the run folder (`livestep/...`). */
export const TEST_WORKING_DIRECTORY = mkdtempSync(join(tmpdir(), 'livestep-studio-'));

/** Every warning, error message and report text the tests saw (checked for the token). */
export const capturedOutput: string[] = [];

export function createTestStudioSink(
  studio: FakeStudio,
  options: StudioSinkOptions = {},
): { sink: Sink; warnings: string[] } {
  const warnings: string[] = [];
  const sink = createStudioSink({
    token: TEST_TOKEN,
    url: studio.url,
    repoUrl: TEST_REPOSITORY_URL,
    baselineSha: TEST_BASELINE_SHA,
    directory: 'livestep',
    workingDirectory: TEST_WORKING_DIRECTORY,
    environment: {},
    postIntervalMs: 0,
    retryPolicy: FAST_RETRY_POLICY,
    onWarning: (message) => {
      warnings.push(message);
      capturedOutput.push(message);
    },
    ...options,
  });
  const report = sink.report!.bind(sink);
  sink.report = () => {
    const state = report();
    capturedOutput.push(JSON.stringify(state));
    return state;
  };
  return { sink, warnings };
}

/** A test run (@livestep/test-support's) whose sinks are its memory sink and a test Studio sink. */
export function startStudioTestRun(
  studio: FakeStudio,
  sinkOptions: StudioSinkOptions = {},
  runOptions: StartRunOptions = {},
): { run: Run; sink: Sink; warnings: string[] } {
  const { sink, warnings } = createTestStudioSink(studio, sinkOptions);
  const { run } = startTestRun({
    experiment: 'studio-tests',
    name: 'brisk-otter',
    flushIntervalMs: 5,
    environment: {},
    onWarning: (message) => {
      warnings.push(message);
      capturedOutput.push(message);
    },
    ...runOptions,
    sinks: [sink, ...(runOptions.sinks ?? [])],
  });
  return { run, sink, warnings };
}

/** The Studio sink's part of a run's report (the memory sink of the test run is the other one). */
export function studioReportOf<Report extends { sink: string }>(report: {
  sinks: Report[];
}): Report {
  const studio = report.sinks.find((entry) => entry.sink.startsWith('studio:'));
  if (studio === undefined) throw new Error('the run has no Studio sink');
  return studio;
}
