/**
 * Server queries over HTTP against a real `livestep serve` process on its embedded store (the
 * data folder filled beforehand by this process, straight into the store, then served):
 *
 * - a 1,000-bucket view (GET .../metrics/series?points=1000) of a 1,000,000-point series, and of a
 *   10,000,000-point one: how the view grows with the series. Baseline in the same run: the same
 *   buckets (count, min, max per bucket) of the 1M series computed by reading every point (each
 *   chunk of the series decoded), which is what a store without summaries kept at ingest has to do.
 * - the latest values of 3 metrics for a runs table of 10,000 runs (GET /api/v1/runs/latest
 *   ?limit=10000&metrics=...). Baseline: the same latest values found from the points (the
 *   highest step of each series, from its last chunk), without HTTP or JSON.
 *
 * Every figure is the median of QUERY_ROUNDS requests after a warm-up request, from sending the
 * request to holding the whole body; the client's JSON.parse of that body is printed apart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deterministicValues,
  formatInteger,
  median,
  printResult,
  round,
  target,
} from './lib/report.mjs';
import { ensureBuilt, importServer, startServe, stopServe } from './lib/serve-process.mjs';

/** LIVESTEP_BENCH_QUICK=1 leaves out the 10M series (its fill takes about a minute). */
const SIZES = process.env.LIVESTEP_BENCH_QUICK ? [1_000_000] : [1_000_000, 10_000_000];
const BUCKETS = 1_000;
const QUERY_ROUNDS = 21;
const BASELINE_ROUNDS = 3;
const RUNS = 10_000;
const RUN_METRICS = ['train/loss', 'eval/accuracy', 'eval/loss'];
/** Points per metric per run in the runs table: a short run each. */
const RUN_POINTS = 10;
const BATCH_EVENTS = 5_000;
/** The issue's targets: the 1M-point view at most 50 ms (median); 10,000 runs' latest values at most 100 ms. */
const VIEW_LIMIT_MS = 50;
const RUNS_TABLE_LIMIT_MS = 100;

ensureBuilt();
const { SqliteRunStore } = await importServer();
const values = deterministicValues(1 << 16);

function fill(store, identity, points, name = 'train/loss') {
  const prefix = crypto.randomUUID().slice(0, 24);
  for (let start = 0; start < points; start += BATCH_EVENTS) {
    const events = [];
    for (let step = start; step < Math.min(points, start + BATCH_EVENTS); step++) {
      events.push({
        id: prefix + step.toString(16).padStart(12, '0'),
        seq: step,
        ts: 1_700_000_000_000 + step,
        kind: 'metric',
        name,
        value: values[step & 0xffff],
        step,
      });
    }
    store.ingestSync([{ run: identity, events, source: 'protocol' }]);
  }
}

/** Moves the fill's write-ahead log into the database, as the server's automatic checkpoints do. */
function checkpoint(store) {
  store.database.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * The median time from sending a request to holding its whole body (what the server and the
 * network cost), and apart from it the median time the client then takes to parse that JSON.
 */
async function timeRequests(url, rounds) {
  await (await fetch(url)).arrayBuffer();
  const times = [];
  const parses = [];
  let body;
  let text = '';
  for (let index = 0; index < rounds; index++) {
    const started = performance.now();
    const response = await fetch(url);
    text = await response.text();
    times.push(performance.now() - started);
    const parsing = performance.now();
    body = JSON.parse(text);
    parses.push(performance.now() - parsing);
    if (response.status !== 200)
      throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return { ms: median(times), parseMs: median(parses), bytes: Buffer.byteLength(text), body };
}

function timeSync(fn, rounds) {
  if (rounds > 1) fn();
  const times = [];
  let result;
  for (let index = 0; index < rounds; index++) {
    const started = performance.now();
    result = fn();
    times.push(performance.now() - started);
  }
  return { ms: median(times), result };
}

/** A chunk's points (point-chunks.ts: float64 step, seq, ts, value), aligned. */
function chunkPoints(data) {
  const points = new Float64Array(data.length / 8);
  new Uint8Array(points.buffer).set(data);
  return points;
}

/** The baseline's buckets: count, min and max of every point, read one by one. */
function bucketsByReadingEveryPoint(chunks, width) {
  const buckets = new Map();
  for (const { data } of chunks.iterate()) {
    const points = chunkPoints(data);
    for (let at = 0; at < points.length; at += 4) {
      const index = Math.floor(points[at] / width);
      const value = points[at + 3];
      const bucket = buckets.get(index);
      if (bucket === undefined) buckets.set(index, { n: 1, lo: value, hi: value });
      else {
        bucket.n++;
        if (value < bucket.lo) bucket.lo = value;
        if (value > bucket.hi) bucket.hi = value;
      }
    }
  }
  return buckets;
}

/** The baseline's latest values: each series' point at its highest step, from its last chunk. */
function latestByReadingPoints(lastChunks) {
  const latest = [];
  for (const { run_key, name, data } of lastChunks.iterate()) {
    const points = chunkPoints(data);
    let best = 0;
    for (let at = 4; at < points.length; at += 4) if (points[at] >= points[best]) best = at;
    latest.push([run_key, name, points[best + 3]]);
  }
  return latest;
}

const metrics = {};
const targets = [];
const work = mkdtempSync(join(tmpdir(), 'livestep-bench-query-'));
try {
  for (const size of SIZES) {
    const data = join(work, `series-${size}`);
    const store = new SqliteRunStore({ directory: data });
    const identity = { id: crypto.randomUUID(), experiment: 'bench', name: `series-${size}` };
    const filling = performance.now();
    fill(store, identity, size);
    checkpoint(store);
    console.log(
      `${formatInteger(size)} points stored in ${((performance.now() - filling) / 1000).toFixed(1)} s`,
    );
    const server = await startServe({ data });
    try {
      const view = await timeRequests(
        `${server.url}/api/v1/runs/${identity.id}/metrics/series?name=train/loss&points=${BUCKETS}`,
        QUERY_ROUNDS,
      );
      const counted = view.body.buckets.reduce((sum, bucket) => sum + bucket.count, 0);
      if (counted !== size) throw new Error(`the view counts ${counted} of ${size} points`);
      const key = size === 1_000_000 ? '1M' : '10M';
      let scanned = '';
      if (size === 1_000_000) {
        // The baseline, on the 1M series only: scanning 10M points takes minutes here.
        const width = Math.ceil(size / BUCKETS);
        const chunks = store.database.prepare(
          "SELECT data FROM point_chunks WHERE series_key = (SELECT series_key FROM series WHERE name = 'train/loss')",
        );
        const baseline = timeSync(() => bucketsByReadingEveryPoint(chunks, width), BASELINE_ROUNDS);
        metrics.scan1MMs = round(baseline.ms, 0);
        scanned = `; scanning the points: ${baseline.ms.toFixed(0)} ms`;
      }
      console.log(
        `${formatInteger(size)}-point series, ${view.body.buckets.length} buckets: ${view.ms.toFixed(1)} ms over HTTP (block size ${view.body.blockSize})${scanned}`,
      );
      metrics[`view${key}Ms`] = round(view.ms, 1);
      if (size === 1_000_000)
        targets.push(
          target('1,000-bucket view of 1M points, median ms', round(view.ms, 1), VIEW_LIMIT_MS),
        );
    } finally {
      await stopServe(server.child);
      await store.close();
    }
  }
  if (metrics.view10MMs !== undefined) {
    metrics.view10MOver1M = round(metrics.view10MMs / metrics.view1MMs, 2);
    console.log(
      `growth: the 10,000,000-point view takes ${metrics.view10MOver1M}x the 1,000,000-point one (10x the points)`,
    );
  }

  const data = join(work, 'runs');
  const store = new SqliteRunStore({ directory: data });
  let server;
  try {
    const filling = performance.now();
    const batches = [];
    for (let index = 0; index < RUNS; index++) {
      const identity = { id: crypto.randomUUID(), experiment: 'table', name: `run-${index}` };
      const events = [
        {
          id: crypto.randomUUID(),
          seq: 0,
          ts: 1,
          kind: 'start',
          experiment: 'table',
          name: identity.name,
        },
      ];
      let seq = 1;
      for (const name of RUN_METRICS) {
        for (let step = 0; step < RUN_POINTS; step++) {
          events.push({
            id: crypto.randomUUID(),
            seq: seq++,
            ts: 2 + step,
            kind: 'metric',
            name,
            value: values[(index + step) & 0xffff],
            step,
          });
        }
      }
      batches.push({ run: identity, events, source: 'protocol' });
      if (batches.length === 100) store.ingestSync(batches.splice(0));
    }
    if (batches.length > 0) store.ingestSync(batches);
    checkpoint(store);
    console.log(
      `${formatInteger(RUNS)} runs stored in ${((performance.now() - filling) / 1000).toFixed(1)} s`,
    );
    server = await startServe({ data });
    const table = await timeRequests(
      `${server.url}/api/v1/runs/latest?limit=${RUNS}&metrics=${RUN_METRICS.join(',')}`,
      QUERY_ROUNDS,
    );
    if (
      table.body.runs.length !== RUNS ||
      table.body.runs[0].latest.filter((values) => values !== null).length !== RUN_METRICS.length
    ) {
      throw new Error('the runs table is incomplete');
    }
    const lastChunks = store.database.prepare(
      `SELECT s.run_key, s.name, (SELECT data FROM point_chunks c WHERE c.series_key = s.series_key
         ORDER BY c.last_step DESC LIMIT 1) AS data FROM series s`,
    );
    const baseline = timeSync(() => latestByReadingPoints(lastChunks), BASELINE_ROUNDS);
    console.log(
      `latest values of ${RUN_METRICS.length} metrics for ${formatInteger(RUNS)} runs: ${table.ms.toFixed(1)} ms over HTTP (then ${table.parseMs.toFixed(1)} ms for the client to parse its ${formatInteger(table.bytes / 1024)} KB); from the points: ${baseline.ms.toFixed(0)} ms (no HTTP, no JSON)`,
    );
    metrics.runsTableMs = round(table.ms, 1);
    metrics.runsTableParseMs = round(table.parseMs, 1);
    metrics.runsTableScanMs = round(baseline.ms, 0);
    targets.push(
      target('latest values for 10,000 runs, median ms', round(table.ms, 1), RUNS_TABLE_LIMIT_MS),
    );
  } finally {
    if (server !== undefined) await stopServe(server.child);
    await store.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

printResult({ name: 'server-query-latency', metrics, targets });
