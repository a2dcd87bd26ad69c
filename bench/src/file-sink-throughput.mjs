/**
 * @livestep/core: how many points a second the directory sink (DVCLive layout: one TSV per
 * metric, metrics.json) stores, against the JSONL sink (one line per point in one file), end to
 * end in one process: from the first `logMetric` until `await run.end()` returned with every row
 * on disk.
 *
 * Two shapes of run: 5 metric names (a usual fit: loss, accuracy, their val_ twins, the learning
 * rate) and 5,000 names (a wide run: per-layer or per-class metrics), where the directory sink has
 * a file per name to append to. Rounds alternate which sink goes first; the median of each is
 * reported. Every round counts the rows on disk: a sink that lost a point fails the benchmark.
 *
 * Targets: with 5 names the directory sink costs at most 3x the JSONL sink per point (the same
 * order of magnitude, so a flood rarely outpaces the disk); with 5,000 names at least 25,000
 * points a second (a goal: the files are touched in a cycle no bounded set of open descriptors
 * can hold, so each batch opens most of them).
 * Prints a table, then one line `RESULT <json>`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDirectorySink, createJsonlSink, startRun } from '@livestep/core';
import {
  collectGarbage,
  countLines,
  deterministicValues,
  median,
  printResult,
  round,
  target,
  yieldToEventLoop,
} from './lib/report.mjs';

/** Points per round: enough that per-run costs (opening files, start and done) vanish. */
const POINTS = 200_000;
/** Measured rounds per sink and shape; the median is reported. */
const ROUNDS = 5;
/** Yield this often, as a training loop awaits between batches. */
const YIELD_EVERY = 1_000;
const SHAPES = [5, 5_000];
const RATIO_LIMIT = 3;
const WIDE_GOAL_POINTS_PER_SECOND = 25_000;
/** The JSONL record's lines besides the points: the run header, `start` and `done`. */
const JSONL_EXTRA_LINES = 3;

const values = deterministicValues(POINTS);
const folder = mkdtempSync(join(tmpdir(), 'livestep-bench-file-sinks-'));

/** Rows in every TSV under `folder`, headers excluded. */
function countTsvRows(root) {
  let rows = 0;
  for (const name of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (name.endsWith('.tsv')) rows += countLines(join(root, name)) - 1;
  }
  return rows;
}

async function measure(sinkKind, nameCount, label) {
  const path = join(folder, `${sinkKind}-${nameCount}-${label}`);
  const sink =
    sinkKind === 'directory'
      ? createDirectorySink({ directory: path, dvcYaml: false })
      : createJsonlSink({ path: `${path}.jsonl` });
  const names = Array.from({ length: nameCount }, (_, index) => `train/metric_${index}`);
  const run = startRun({
    experiment: 'bench',
    name: `file-sinks-${label}`,
    sinks: [sink],
    exitHooks: false,
    collectGit: false,
    collectMachine: false,
    onWarning(message) {
      throw new Error(`unexpected livestep warning: ${message}`);
    },
  });
  collectGarbage();
  const started = process.hrtime.bigint();
  for (let index = 0; index < POINTS; index++) {
    run.logMetric(names[index % nameCount], values[index]);
    if (index % nameCount === nameCount - 1) run.nextStep();
    if (index % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
  }
  const report = await run.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stored =
    sinkKind === 'directory'
      ? countTsvRows(join(path, 'plots', 'metrics'))
      : countLines(`${path}.jsonl`) - JSONL_EXTRA_LINES;
  if (!report.ok || stored !== POINTS) {
    throw new Error(
      `${sinkKind} sink, ${nameCount} names: ${stored} points on disk, expected ${POINTS}; report ${JSON.stringify(report)}`,
    );
  }
  rmSync(path, { recursive: true, force: true });
  rmSync(`${path}.jsonl`, { force: true });
  return POINTS / seconds;
}

const results = {};
try {
  for (const nameCount of SHAPES) {
    await measure('directory', nameCount, 'warm-up');
    await measure('jsonl', nameCount, 'warm-up');
    results[nameCount] = { directory: [], jsonl: [] };
    for (let index = 0; index < ROUNDS; index++) {
      const order = index % 2 === 0 ? ['directory', 'jsonl'] : ['jsonl', 'directory'];
      for (const kind of order)
        results[nameCount][kind].push(await measure(kind, nameCount, index));
    }
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const summary = {};
console.log(
  `${POINTS.toLocaleString('en')} points a round, a yield every ${YIELD_EVERY}, ${ROUNDS} rounds`,
);
console.log(
  'names   directory points/s   jsonl points/s   directory ns/point   jsonl ns/point   cost ratio',
);
for (const nameCount of SHAPES) {
  const directory = median(results[nameCount].directory);
  const jsonl = median(results[nameCount].jsonl);
  summary[nameCount] = { directory, jsonl, ratio: jsonl / directory };
  console.log(
    `${String(nameCount).padStart(5)}   ${Math.round(directory).toLocaleString('en').padStart(18)}   ${Math.round(jsonl).toLocaleString('en').padStart(14)}   ${(1e9 / directory).toFixed(0).padStart(18)}   ${(1e9 / jsonl).toFixed(0).padStart(14)}   ${(jsonl / directory).toFixed(2).padStart(10)}`,
  );
}
console.log('every point counted on disk in every round');

printResult({
  name: 'file-sink-throughput',
  metrics: {
    directoryPointsPerSecond5Names: round(summary[5].directory),
    jsonlPointsPerSecond5Names: round(summary[5].jsonl),
    directoryToJsonlCostRatio5Names: round(summary[5].ratio, 2),
    directoryPointsPerSecond5000Names: round(summary[5000].directory),
    jsonlPointsPerSecond5000Names: round(summary[5000].jsonl),
  },
  targets: [
    target('directory/JSONL cost per point, 5 names', round(summary[5].ratio, 2), RATIO_LIMIT),
    // Inverted so that "value <= limit" passes: seconds per million points.
    target(
      'directory sink, 5,000 names: seconds per 1M points',
      round(1e6 / summary[5000].directory, 1),
      round(1e6 / WIDE_GOAL_POINTS_PER_SECOND, 1),
      'goal',
    ),
  ],
});
