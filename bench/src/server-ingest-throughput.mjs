/**
 * Server ingest: points a second from @livestep/core's HTTP sink through a real `livestep serve`
 * process into committed storage (the clock stops when run.end() has every batch acknowledged,
 * and the query API then counts every point), against inserting the same points straight into
 * the same store (SqliteRunStore.ingestSync, 5,000 events a transaction, as the sink batches).
 *
 * Baseline in the same run: the direct inserts. The ratio shows what HTTP, JSON, validation and
 * the client's own pipeline cost on top of the store.
 *
 * The sink sends metric columns (the server announces them) with two requests in flight. The
 * logging loop outruns the server, so the sink passes its memory bound (50,000 events) and
 * spills to its spool, which it replays; a second end-to-end figure raises that bound past the
 * run (no spool) to show what the network path itself takes, and a second direct figure stores
 * the same points as columns.
 *
 * Each HTTP round also reports the CPU time a point costs the server process (from /proc) and
 * this process (the client: logging, the sink, its spool): on a shared machine those move less
 * than the wall clock, and they say which side holds the end-to-end figure back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpSink, Run } from '@livestep/core';
import { encodeMetricColumns } from '@livestep/core/protocol';
import {
  deterministicValues,
  formatInteger,
  median,
  printResult,
  round,
  target,
} from './lib/report.mjs';
import { ensureBuilt, importServer, startServe, stopServe } from './lib/serve-process.mjs';

const POINTS = 500_000;
const ROUNDS = 3;
/** Yield to the event loop this often, as a training loop does between steps. */
const YIELD_EVERY = 1_000;
const NAMES = ['train/loss', 'train/accuracy'];
const BATCH_EVENTS = 5_000;
/** The target: 500,000 points/s end to end on the 2-core VM (2,000 ns a point); goal 1,000,000. */
const TARGET_NANOSECONDS_PER_POINT = 2_000;
const GOAL_NANOSECONDS_PER_POINT = 1_000;

const values = deterministicValues(1 << 16);
/** Clock ticks a second in /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds a process has used (user + system), from /proc: the server's share of a round,
 * which the machine's other load disturbs less than the wall clock does.
 */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

async function httpRound(sinkOptions = {}) {
  const work = mkdtempSync(join(tmpdir(), 'livestep-bench-ingest-'));
  const { child, url } = await startServe({ data: join(work, 'data') });
  try {
    const run = new Run({
      experiment: 'bench',
      name: 'ingest',
      exitHooks: false,
      collectGit: false,
      collectMachine: false,
      onWarning() {},
      sinks: [
        createHttpSink({
          url,
          spoolDirectory: join(work, 'spool'),
          onWarning() {},
          ...sinkOptions,
        }),
      ],
    });
    const serverCpuBefore = cpuSeconds(child.pid);
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let index = 0; index < POINTS; index++) {
      run.logMetric(NAMES[index & 1], values[index & 0xffff], { step: index >> 1 });
      if (index % YIELD_EVERY === YIELD_EVERY - 1) await new Promise(setImmediate);
    }
    const report = await run.end('completed', { timeoutMs: 120_000 });
    const seconds = (performance.now() - started) / 1000;
    const serverCpu = cpuSeconds(child.pid) - serverCpuBefore;
    const clientUsage = process.cpuUsage(clientCpuBefore);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    const answer = await (await fetch(`${url}/api/v1/runs/${run.id}/metrics`)).json();
    const stored = answer.metrics.reduce((sum, series) => sum + series.count, 0);
    if (!report.ok || stored !== POINTS) {
      throw new Error(`the server stored ${stored} of ${POINTS} points (report ok: ${report.ok})`);
    }
    return {
      pointsPerSecond: POINTS / seconds,
      serverNanosecondsPerPoint: (serverCpu * 1e9) / POINTS,
      clientNanosecondsPerPoint: (clientCpu * 1e9) / POINTS,
    };
  } finally {
    await stopServe(child);
    rmSync(work, { recursive: true, force: true });
  }
}

async function directRound(SqliteRunStore, columns = false) {
  const work = mkdtempSync(join(tmpdir(), 'livestep-bench-direct-'));
  const store = new SqliteRunStore({ directory: work });
  try {
    const identity = { id: crypto.randomUUID(), experiment: 'bench', name: 'direct' };
    const prefix = crypto.randomUUID().slice(0, 24);
    const started = performance.now();
    let seq = 0;
    for (let start = 0; start < POINTS; start += BATCH_EVENTS) {
      const events = [];
      for (let index = start; index < start + BATCH_EVENTS; index++) {
        const s = seq++;
        events.push({
          id: prefix + s.toString(16).padStart(12, '0'),
          seq: s,
          ts: Date.now(),
          kind: 'metric',
          name: NAMES[index & 1],
          value: values[index & 0xffff],
          step: index >> 1,
        });
      }
      store.ingestSync([
        columns
          ? {
              run: identity,
              events: [],
              metricColumns: [encodeMetricColumns(events)],
              source: 'protocol',
            }
          : { run: identity, events, source: 'protocol' },
      ]);
    }
    const seconds = (performance.now() - started) / 1000;
    const counts = await store.counts();
    if (counts.points !== POINTS)
      throw new Error(`the store holds ${counts.points} of ${POINTS} points`);
    return POINTS / seconds;
  } finally {
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
}

ensureBuilt();
const { SqliteRunStore } = await importServer();
const http = [];
const direct = [];
const httpNoSpool = [];
const directColumns = [];
const serverCpu = [];
const clientCpu = [];
const recordHttp = (into, result) => {
  into.push(result.pointsPerSecond);
  serverCpu.push(result.serverNanosecondsPerPoint);
  clientCpu.push(result.clientNanosecondsPerPoint);
};
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which side goes first, so neither always gets the cooler machine.
  if (round % 2 === 0) {
    recordHttp(http, await httpRound());
    direct.push(await directRound(SqliteRunStore));
  } else {
    direct.push(await directRound(SqliteRunStore));
    recordHttp(http, await httpRound());
  }
  recordHttp(httpNoSpool, await httpRound({ maxMemoryEvents: POINTS * 2 }));
  directColumns.push(await directRound(SqliteRunStore, true));
  console.log(
    `round ${round + 1}: HTTP sink -> serve -> SQLite ${formatInteger(http.at(-1))} points/s; direct store inserts ${formatInteger(direct.at(-1))} points/s; (no spool ${formatInteger(httpNoSpool.at(-1))}, direct as columns ${formatInteger(directColumns.at(-1))}); CPU a point, server ${formatInteger(serverCpu.at(-2))} / ${formatInteger(serverCpu.at(-1))} ns, client ${formatInteger(clientCpu.at(-2))} / ${formatInteger(clientCpu.at(-1))} ns (spool / no spool)`,
  );
}
const httpMedian = median(http);
const directMedian = median(direct);
console.log(
  `median: end to end ${formatInteger(httpMedian)} points/s, direct ${formatInteger(directMedian)} points/s, ratio ${(httpMedian / directMedian).toFixed(2)}; end to end without the spool ${formatInteger(median(httpNoSpool))}, direct as columns ${formatInteger(median(directColumns))}; CPU a point (every HTTP round) server ${formatInteger(median(serverCpu))} ns, client ${formatInteger(median(clientCpu))} ns`,
);
printResult({
  name: 'server-ingest-throughput',
  metrics: {
    endToEndPointsPerSecond: Math.round(httpMedian),
    directStorePointsPerSecond: Math.round(directMedian),
    endToEndOverDirect: round(httpMedian / directMedian, 2),
    endToEndWithoutSpoolPointsPerSecond: Math.round(median(httpNoSpool)),
    directStoreColumnsPointsPerSecond: Math.round(median(directColumns)),
    serverCpuNanosecondsPerPoint: Math.round(median(serverCpu)),
    clientCpuNanosecondsPerPoint: Math.round(median(clientCpu)),
  },
  targets: [
    target(
      'end-to-end ns per point (500,000 points/s)',
      round(1e9 / httpMedian),
      TARGET_NANOSECONDS_PER_POINT,
    ),
    target(
      'end-to-end ns per point (goal 1,000,000 points/s)',
      round(1e9 / httpMedian),
      GOAL_NANOSECONDS_PER_POINT,
      'goal',
    ),
  ],
});
