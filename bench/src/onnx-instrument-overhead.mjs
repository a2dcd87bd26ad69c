#!/usr/bin/env node
// Overhead of @livestep/onnx's instrument() per session.run call, against a bare loop, on a tiny
// model (Gemm 4x3 + Softmax, one sample per call): the worst case, since the smaller the model
// the larger the share of the bookkeeping. Rounds alternate the order of the loops, and the result
// is the median of the per-round ratios, so drift (turbo clocks, GC, other processes) cancels out.
// The session uses onnxruntime's default options, as `InferenceSession.create(path)` gives them.
//
// A third loop, the floor, times every call in the cheapest way there is and does nothing else:
// two clock reads, one of them in a reaction on the session's own promise, and two stores into a
// typed array. A wrapper that measures each call's latency through the session's API cannot do
// less, so the floor's ratio is the part of the budget the machine takes before livestep does
// anything, and "above floor" is what instrument() itself adds (buffering, logging, the run's
// pipeline).
//
// The target is on that part alone: instrument() may cost at most MAX_ABOVE_FLOOR_US a call above
// the floor. The plain ratio (instrumented / bare) is printed and kept in the metrics as
// information: most of it is the floor, which depends on the machine (a clock read between two
// native calls costs ~0.06 µs in a tight loop and ~0.4 µs on a busy 2-core VM), not on livestep.
//
// Prints a table, then one line `RESULT <json>`: { name, metrics, targets: [{ name, value, limit, pass, level }] }.
import { createNoopSink, startRun } from '@livestep/core';
import { instrument } from '@livestep/onnx';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { printResult, target } from './lib/report.mjs';

const { onnx } = onnxProto;

const NAME = 'onnx-instrument-overhead';
/**
 * Calls per loop: 2–4 ms, long enough for the timer, short enough that the loops of a round see
 * the same machine (other processes, clock speed), so most rounds are clean.
 */
const CALLS_PER_LOOP = 100;
/** Rounds of the three loops; many, so the median shrugs off rounds a neighbour disturbed; odd, so it is one round's ratio. */
const ROUNDS = 401;
/** Calls before measuring, so the JIT and the runtime's buffers have settled. */
const WARMUP_CALLS = 1_000;
/**
 * What instrument() itself may add to a call, above the floor (µs): a few times what it costs on
 * a quiet machine (0.1–0.4 µs measured on the 2-core VM), so a neighbour's noise does not fail
 * it, while a change that doubles the hot path's work does.
 */
const MAX_ABOVE_FLOOR_US = 0.5;
/** Rounds printed one by one (all of them count). */
const SHOWN_ROUNDS = 10;

function tinyModel() {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const valueInfo = (name, width) => ({
    name,
    type: {
      tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'livestep-bench',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: [
        { opType: 'Gemm', input: ['features', 'kernel', 'bias'], output: ['logits'] },
        { opType: 'Softmax', input: ['logits'], output: ['probabilities'] },
      ],
      initializer: [
        {
          name: 'kernel',
          dims: [4, 3],
          dataType: FLOAT,
          floatData: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, -1, 1.1, 1.2],
        },
        { name: 'bias', dims: [3], dataType: FLOAT, floatData: [0.01, 0.02, 0.03] },
      ],
      input: [valueInfo('features', 4)],
      output: [valueInfo('probabilities', 3)],
    },
  }).finish();
}

async function loop(session, feeds, calls) {
  const started = process.hrtime.bigint();
  for (let call = 0; call < calls; call++) await session.run(feeds);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function ignoreRejection() {}

/** The floor: a session whose run() times each call as cheaply as possible and keeps the last 128 timings. */
function timeOnly(session) {
  const original = session.run;
  const clockReads = new BigUint64Array(256);
  let next = 0;
  const timed = Object.create(session);
  Object.defineProperty(timed, 'run', {
    value(feeds, fetchesOrOptions, options) {
      const started = process.hrtime.bigint();
      const outputs = original.call(session, feeds, fetchesOrOptions, options);
      outputs.then(() => {
        clockReads[next] = started;
        clockReads[next + 1] = process.hrtime.bigint();
        next = (next + 2) & 255;
      }, ignoreRejection);
      return outputs;
    },
  });
  return timed;
}

const session = await ort.InferenceSession.create(tinyModel());
const run = startRun({
  experiment: 'bench',
  name: NAME,
  sinks: [createNoopSink()],
  exitHooks: false,
  collectGit: false,
  collectMachine: false,
});
const instrumented = instrument(session, run);
const floor = timeOnly(session);
const feeds = {
  features: new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2]), [1, 4]),
};

const loops = { bare: session, floor, instrumented };
const order = Object.keys(loops);
for (const which of order) await loop(loops[which], feeds, WARMUP_CALLS);

const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const milliseconds = {};
  for (const which of round % 2 === 0 ? order : [...order].reverse()) {
    milliseconds[which] = await loop(loops[which], feeds, CALLS_PER_LOOP);
  }
  rounds.push(milliseconds);
}
await run.end();
await session.release();

const microseconds = (milliseconds) => (milliseconds * 1000) / CALLS_PER_LOOP;
const medianMicroseconds = (pick) => microseconds(median(rounds.map(pick)));
const ratio = median(rounds.map((round) => round.instrumented / round.bare));
const floorRatio = median(rounds.map((round) => round.floor / round.bare));
const bareMicroseconds = medianMicroseconds((round) => round.bare);
const floorMicroseconds = medianMicroseconds((round) => round.floor);
const instrumentedMicroseconds = medianMicroseconds((round) => round.instrumented);
const overheadMicroseconds = medianMicroseconds((round) => round.instrumented - round.bare);
const aboveFloorMicroseconds = medianMicroseconds((round) => round.instrumented - round.floor);

console.log(
  `${NAME}: ${ROUNDS} rounds of ${CALLS_PER_LOOP} session.run calls per loop (tiny Gemm + Softmax model)`,
);
console.log('round   bare (µs/call)   floor (µs/call)   instrumented (µs/call)   ratio');
rounds.slice(0, SHOWN_ROUNDS).forEach((round, index) => {
  console.log(
    `${String(index).padStart(5)}   ${microseconds(round.bare).toFixed(2).padStart(14)}   ${microseconds(round.floor).toFixed(2).padStart(15)}   ${microseconds(round.instrumented).toFixed(2).padStart(22)}   ${(round.instrumented / round.bare).toFixed(4)}`,
  );
});
console.log(
  `median: bare ${bareMicroseconds.toFixed(2)} µs/call; floor (time each call, nothing else) ${floorMicroseconds.toFixed(2)} µs/call, ratio ${floorRatio.toFixed(4)}; instrumented ${instrumentedMicroseconds.toFixed(2)} µs/call, ratio ${ratio.toFixed(4)} (information); ${aboveFloorMicroseconds.toFixed(2)} µs above the floor (limit ${MAX_ABOVE_FLOOR_US})`,
);
const result = {
  name: NAME,
  metrics: {
    'bare (us per call)': Number(bareMicroseconds.toFixed(3)),
    'instrumented (us per call)': Number(instrumentedMicroseconds.toFixed(3)),
    'overhead (us per call)': Number(overheadMicroseconds.toFixed(3)),
    'overhead ratio': Number(ratio.toFixed(4)),
    'floor (us per call)': Number(floorMicroseconds.toFixed(3)),
    'floor ratio': Number(floorRatio.toFixed(4)),
    'above floor (us per call)': Number(aboveFloorMicroseconds.toFixed(3)),
    rounds: ROUNDS,
    'calls per loop': CALLS_PER_LOOP,
  },
  targets: [
    target(
      'instrument() cost above the floor per session.run (us, median of paired rounds)',
      Number(aboveFloorMicroseconds.toFixed(3)),
      MAX_ABOVE_FLOOR_US,
    ),
  ],
};
printResult(result);
