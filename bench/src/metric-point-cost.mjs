/**
 * Cost of one metric point through the whole livestep pipeline into the JSONL sink, against pino
 * writing the same number of JSON records to a file, in the same process and the same run.
 *
 * livestep: startRun with only a JSONL sink; logMetric over a handful of names, nextStep() after
 * each full set; the clock stops when `await run.end()` resolves, so every point is on disk.
 * pino: logger.info({ name, value, step }) into pino.destination({ sync: false }); the clock
 * stops when the destination has written everything it buffered.
 *
 * Rounds are paired and alternate which side goes first, after one warm-up round of each. Both
 * loops yield to the event loop every YIELD_EVERY points, as a training loop does between
 * batches, so background writes can proceed. Every round is checked: the livestep file must
 * hold header + start + every point + done, the pino file every record, or the benchmark fails.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsonlSink, startRun } from '@livestep/core';
import pino from 'pino';
import {
  collectGarbage,
  countLines,
  deterministicValues,
  maximum,
  median,
  minimum,
  printResult,
  requireExposedGc,
  round,
  target,
  yieldToEventLoop,
} from './lib/report.mjs';

/** Points per round: enough that per-run costs (opening files, start/done events) vanish. */
const POINTS = 200_000;
/** Measured rounds per side; the median is reported. */
const ROUNDS = 7;
/** One round per side first, so both are measured with optimized code. */
const WARM_UP_ROUNDS = 1;
/** A typical epoch logs a few metrics, then moves to the next step. */
const NAMES = ['train/loss', 'train/accuracy', 'val/loss', 'val/accuracy', 'learning_rate'];
/** Yield this often: a training loop awaits between batches, which lets writes complete. */
const YIELD_EVERY = 1_000;
/**
 * Values come from a table of this many deterministic doubles (a power of two, more than POINTS),
 * so every point of a round has its own value, as real losses do. A small table would let V8's
 * number-to-string cache serve most conversions (about 50 ns instead of 170 ns here) and flatter
 * both sides.
 */
const VALUE_TABLE_SIZE = 262_144;

/** Targets: livestep must not cost more than pino per point; the goal is 300 ns a point. */
const TARGET_RATIO = 1.0;
const GOAL_NANOSECONDS_PER_POINT = 300;

/** The lines livestep writes besides the points: the run header, `start` and `done`. */
const LIVESTEP_EXTRA_LINES = 3;

requireExposedGc('metric-point-cost');

const values = deterministicValues(VALUE_TABLE_SIZE);
const valueMask = VALUE_TABLE_SIZE - 1;
const folder = mkdtempSync(join(tmpdir(), 'livestep-bench-point-cost-'));

async function livestepRound(round) {
  const path = join(folder, `livestep-${round}.jsonl`);
  const run = startRun({
    experiment: 'bench',
    name: `point-cost-${round}`,
    sinks: [createJsonlSink({ path })],
    exitHooks: false,
    collectGit: false,
    onWarning(message) {
      throw new Error(`unexpected livestep warning: ${message}`);
    },
  });
  collectGarbage();

  const started = process.hrtime.bigint();
  for (let index = 0; index < POINTS; index++) {
    run.logMetric(NAMES[index % NAMES.length], values[index & valueMask]);
    if (index % NAMES.length === NAMES.length - 1) run.nextStep();
    if (index % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
  }
  const report = await run.end();
  const elapsed = process.hrtime.bigint() - started;

  const lines = countLines(path);
  if (!report.ok || lines !== POINTS + LIVESTEP_EXTRA_LINES) {
    throw new Error(
      `livestep round ${round} lost data: ${lines} lines on disk, expected ${POINTS + LIVESTEP_EXTRA_LINES}; report ${JSON.stringify(report)}`,
    );
  }
  const bytes = statSync(path).size;
  rmSync(path);
  return { nanosecondsPerPoint: Number(elapsed) / POINTS, bytesPerLine: bytes / lines };
}

/** Resolves once sonic-boom has written everything it buffered (without fsync, see README). */
function pinoDrained(destination) {
  // sonic-boom has no public "idle" getter; _writing and _len are its own bookkeeping. If a
  // future version renames them, fall back to end(), which also fsyncs (slower, never wrong).
  if (typeof destination._writing !== 'boolean' || typeof destination._len !== 'number') {
    return new Promise((resolve) => {
      destination.once('close', resolve);
      destination.end();
    });
  }
  if (!destination._writing && destination._len === 0) return Promise.resolve();
  return new Promise((resolve) => destination.once('drain', resolve));
}

async function pinoRound(round) {
  const path = join(folder, `pino-${round}.log`);
  const destination = pino.destination({ dest: path, sync: false });
  const logger = pino(destination);
  await new Promise((resolve) => destination.once('ready', resolve));
  collectGarbage();

  const started = process.hrtime.bigint();
  let step = 0;
  for (let index = 0; index < POINTS; index++) {
    logger.info({ name: NAMES[index % NAMES.length], value: values[index & valueMask], step });
    if (index % NAMES.length === NAMES.length - 1) step++;
    if (index % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
  }
  await pinoDrained(destination);
  const elapsed = process.hrtime.bigint() - started;

  const lines = countLines(path);
  if (lines !== POINTS) {
    throw new Error(`pino round ${round} lost data: ${lines} lines on disk, expected ${POINTS}`);
  }
  if (!destination.destroyed) {
    await new Promise((resolve) => {
      destination.once('close', resolve);
      destination.end();
    });
  }
  const bytes = statSync(path).size;
  rmSync(path);
  return { nanosecondsPerPoint: Number(elapsed) / POINTS, bytesPerLine: bytes / lines };
}

const livestep = [];
const peer = [];
try {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    await livestepRound(`warm-up-${round}`);
    await pinoRound(`warm-up-${round}`);
  }
  console.log(
    `${POINTS.toLocaleString('en')} points a round, ${NAMES.length} names, nextStep() every ${NAMES.length} points, a yield every ${YIELD_EVERY.toLocaleString('en')}`,
  );
  console.log('round  livestep ns/point  pino ns/point  ratio');
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first, so neither always inherits the other's garbage or caches.
    let ours;
    let theirs;
    if (round % 2 === 0) {
      ours = await livestepRound(round);
      theirs = await pinoRound(round);
    } else {
      theirs = await pinoRound(round);
      ours = await livestepRound(round);
    }
    livestep.push(ours);
    peer.push(theirs);
    console.log(
      `${String(round + 1).padStart(5)}  ${ours.nanosecondsPerPoint.toFixed(0).padStart(17)}  ${theirs.nanosecondsPerPoint.toFixed(0).padStart(13)}  ${(ours.nanosecondsPerPoint / theirs.nanosecondsPerPoint).toFixed(2).padStart(5)}`,
    );
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const ourCosts = livestep.map((result) => result.nanosecondsPerPoint);
const peerCosts = peer.map((result) => result.nanosecondsPerPoint);
const ourMedian = median(ourCosts);
const peerMedian = median(peerCosts);
const pairedRatios = ourCosts.map((cost, index) => cost / peerCosts[index]);
const ratio = ourMedian / peerMedian;

console.log(
  `livestep -> JSONL sink: ${ourMedian.toFixed(0)} ns/point median (min ${minimum(ourCosts).toFixed(0)}, max ${maximum(ourCosts).toFixed(0)}), ${livestep[0].bytesPerLine.toFixed(0)} bytes a line`,
);
console.log(
  `pino -> file:           ${peerMedian.toFixed(0)} ns/record median (min ${minimum(peerCosts).toFixed(0)}, max ${maximum(peerCosts).toFixed(0)}), ${peer[0].bytesPerLine.toFixed(0)} bytes a line`,
);
console.log(
  `ratio livestep/pino:    ${ratio.toFixed(2)} (of medians; paired rounds ${minimum(pairedRatios).toFixed(2)}-${maximum(pairedRatios).toFixed(2)}); every point verified on disk`,
);

printResult({
  name: 'metric-point-cost',
  metrics: {
    livestepNanosecondsPerPoint: round(ourMedian),
    pinoNanosecondsPerRecord: round(peerMedian),
    ratio: round(ratio, 3),
    livestepBytesPerLine: round(livestep[0].bytesPerLine),
    pinoBytesPerLine: round(peer[0].bytesPerLine),
  },
  targets: [
    target('ratio livestep/pino (ns per point)', round(ratio, 3), TARGET_RATIO),
    target('livestep ns per point', round(ourMedian), GOAL_NANOSECONDS_PER_POINT, 'goal'),
  ],
});
