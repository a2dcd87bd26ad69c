#!/usr/bin/env node
// Overhead of @livestep/loop's track() per iteration, on an empty loop body (the worst case: the
// cheaper the body, the larger the bookkeeping's share), against a plain `for...of` over the same
// array. Each iteration of a tracked loop is one run step (run.nextStep()), counted, and every so
// often checked against the clock to redraw progress; the bar's redraws are throttled to 10 per
// second. Rounds alternate which loop goes first, and the result is the median of the per-round
// differences, so drift (turbo clocks, GC, other processes) cancels out.
//
// Variants: progress off; plain lines to a stream that is not a TTY (nothing is due in a round);
// the bar drawn to a fake TTY whose writes are discarded (redraws happen, throttled).
//
// Prints a table, then one line `RESULT <json>`: { name, metrics, targets: [{ name, value, limit, pass, level }] }.
import { createNoopSink, startRun } from '@livestep/core';
import { track } from '@livestep/loop';
import { median, RESULT_PREFIX, round } from './lib/report.mjs';

const NAME = 'loop-track-overhead';
/** Iterations per loop: long enough for the timer (a few ms), short enough for a quiet machine. */
const ITERATIONS = 1_000_000;
/** The bar's loops are longer (~100+ ms) so that throttled redraws happen inside them, not only the first and last. */
const BAR_ITERATIONS = 10_000_000;
/** Paired rounds per variant; odd, so the median is one round's difference. */
const ROUNDS = 31;
/** Fewer rounds of the longer bar loops keep the whole benchmark within seconds. */
const BAR_ROUNDS = 11;
/** Loops run before measuring, so the JIT has settled on both. */
const WARMUP_LOOPS = 20;
/** The bar: "well under 1 µs" per iteration. */
const MAX_OVERHEAD_NS = 1_000;
/** Rounds printed one by one (all of them count). */
const SHOWN_ROUNDS = 5;

const items = Array.from({ length: BAR_ITERATIONS }, (_, index) => index);
const run = startRun({
  experiment: 'bench',
  name: NAME,
  sinks: [createNoopSink()],
  exitHooks: false,
  collectGit: false,
  collectMachine: false,
});

/** A stream that is not a TTY and drops what it gets. */
const logStream = { write: () => true };
/** A terminal that drops what it gets; counts redraws. */
const terminal = { isTTY: true, columns: 120, writes: 0, write: () => ++terminal.writes > 0 };

const VARIANTS = [
  {
    label: 'progress off',
    options: { progress: false },
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    label: 'lines (not a TTY)',
    options: { progress: 'auto', stream: logStream },
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    label: 'bar (fake TTY)',
    options: { progress: 'auto', stream: terminal },
    iterations: BAR_ITERATIONS,
    rounds: BAR_ROUNDS,
  },
];

let checksum = 0;

function bare(iterations) {
  const data = iterations === items.length ? items : items.slice(0, iterations);
  const started = process.hrtime.bigint();
  let sum = 0;
  for (const item of data) sum += item;
  checksum += sum;
  return Number(process.hrtime.bigint() - started);
}

function tracked(options, iterations) {
  const data = iterations === items.length ? items : items.slice(0, iterations);
  const started = process.hrtime.bigint();
  let sum = 0;
  for (const item of track(data, { ...options, run })) sum += item;
  checksum += sum;
  return Number(process.hrtime.bigint() - started);
}

const results = [];
for (const variant of VARIANTS) {
  const { iterations } = variant;
  for (let loop = 0; loop < WARMUP_LOOPS; loop++) {
    bare(iterations);
    tracked(variant.options, iterations);
  }
  const rounds = [];
  terminal.writes = 0;
  for (let index = 0; index < variant.rounds; index++) {
    let bareNs;
    let trackedNs;
    if (index % 2 === 0) {
      bareNs = bare(iterations);
      trackedNs = tracked(variant.options, iterations);
    } else {
      trackedNs = tracked(variant.options, iterations);
      bareNs = bare(iterations);
    }
    rounds.push({ bare: bareNs / iterations, tracked: trackedNs / iterations });
  }
  const overhead = median(rounds.map((round) => round.tracked - round.bare));
  results.push({
    ...variant,
    rounds,
    bare: median(rounds.map((round) => round.bare)),
    tracked: median(rounds.map((round) => round.tracked)),
    overhead,
    // Each redraw is 3 writes (to the first column, the text, clear to the right); the first
    // draw adds a cursor save, the last a restore and a newline.
    redrawsPerLoop: (terminal.writes / variant.rounds - 5) / 3,
  });
}
await run.end();

console.log(`${NAME}: paired rounds (bare, track()) of loops with an empty body`);
for (const result of results) {
  console.log(
    `\n${result.label}: ${result.rounds.length} rounds of ${result.iterations.toLocaleString('en')} iterations`,
  );
  console.log('round   bare (ns/it)   track() (ns/it)   overhead (ns/it)');
  result.rounds.slice(0, SHOWN_ROUNDS).forEach((round, index) => {
    console.log(
      `${String(index).padStart(5)}   ${round.bare.toFixed(2).padStart(12)}   ${round.tracked.toFixed(2).padStart(15)}   ${(round.tracked - round.bare).toFixed(2).padStart(16)}`,
    );
  });
  const redraws = result.label.startsWith('bar')
    ? `, ${result.redrawsPerLoop.toFixed(1)} redraws per loop of ${((result.tracked * result.iterations) / 1e6).toFixed(0)} ms`
    : '';
  console.log(
    `median: bare ${result.bare.toFixed(2)} ns/it, track() ${result.tracked.toFixed(2)} ns/it, overhead ${result.overhead.toFixed(2)} ns/it (limit ${MAX_OVERHEAD_NS})${redraws}`,
  );
}
if (checksum === 0) console.log('(checksum 0)');

const key = (label) => label.replace(/ \(.*\)$/, '');
const metrics = {};
for (const result of results) {
  metrics[`bare (ns per iteration), ${key(result.label)}`] = round(result.bare, 2);
  metrics[`track() (ns per iteration), ${key(result.label)}`] = round(result.tracked, 2);
  metrics[`overhead (ns per iteration), ${key(result.label)}`] = round(result.overhead, 2);
}
metrics['bar redraws per loop'] = round(results.at(-1).redrawsPerLoop, 1);

const result = {
  name: NAME,
  metrics,
  targets: results.map((entry) => ({
    name: `track() overhead per iteration, empty body, ${entry.label} (ns, median of paired rounds)`,
    value: round(entry.overhead, 2),
    limit: MAX_OVERHEAD_NS,
    pass: entry.overhead <= MAX_OVERHEAD_NS,
    level: 'target',
  })),
};
console.log(`${RESULT_PREFIX}${JSON.stringify(result)}`);
