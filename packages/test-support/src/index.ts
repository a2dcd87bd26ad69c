/**
 * Helpers for the livestep packages' tests (a private workspace package, never published; vitest
 * and tsc read this TypeScript source directly).
 */

export {
  FakeLivestepServer,
  type ReceivedBatchRequest,
  startFakeLivestepServer,
} from './fake-livestep-server.js';
export {
  FakeReceiver,
  type ReceivedHttpRequest,
  type ReceiverFault,
  type StatusAnswer,
} from './fake-receiver.js';
export { readJournal } from './journal.js';
export {
  assertBuilt,
  builtEntry,
  DEFAULT_SCRIPT_TIMEOUT_MS,
  importUrl,
  type NodeScript,
  type NodeScriptOptions,
  type NodeScriptOutcome,
  runNodeScript,
  startNodeScript,
  writeScript,
} from './node-script.js';
export { readmeCodeBlock } from './readme-code.js';
export { createGatedSink, startTestRun, type TestRun, testRunOptions } from './test-run.js';
