#!/usr/bin/env node
// Overhead of @livestep/onnx's instrument() per session.run call, against a bare loop, on a tiny
// model (Gemm 4x3 + Softmax, one sample per call): the worst case, since the smaller the model
// the larger the share of the bookkeeping. Rounds alternate which loop goes first, and the result
// is the median of the per-round ratios, so drift (turbo clocks, GC, other processes) cancels out.
// The session uses onnxruntime's default options, as `InferenceSession.create(path)` gives them.
//
// Prints a table, then one line `RESULT <json>`: { name, metrics, targets: [{ name, value, limit, pass, level }] }.
import { createNoopSink, startRun } from '@livestep/core';
import { instrument } from '@livestep/onnx';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

const NAME = 'onnx-instrument-overhead';
/**
 * Calls per loop: a few milliseconds, long enough for the timer, short enough that the two loops
 * of a round see the same machine (other processes, clock speed), so most pairs are clean.
 */
const CALLS_PER_LOOP = 300;
/** Paired rounds (bare + instrumented); many, so the median shrugs off pairs a neighbour disturbed; odd, so it is one round's ratio. */
const ROUNDS = 51;
/** Calls before measuring, so the JIT and the runtime's buffers have settled. */
const WARMUP_CALLS = 1_000;
/** The bar: instrumenting may cost at most 5% per call. */
const MAX_OVERHEAD_RATIO = 1.05;
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
const feeds = {
  features: new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2]), [1, 4]),
};

await loop(session, feeds, WARMUP_CALLS);
await loop(instrumented, feeds, WARMUP_CALLS);

const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  let bare;
  let withInstrument;
  if (round % 2 === 0) {
    bare = await loop(session, feeds, CALLS_PER_LOOP);
    withInstrument = await loop(instrumented, feeds, CALLS_PER_LOOP);
  } else {
    withInstrument = await loop(instrumented, feeds, CALLS_PER_LOOP);
    bare = await loop(session, feeds, CALLS_PER_LOOP);
  }
  rounds.push({ bare, withInstrument, ratio: withInstrument / bare });
}
await run.end();
await session.release();

const microseconds = (milliseconds) => (milliseconds * 1000) / CALLS_PER_LOOP;
console.log(
  `${NAME}: ${ROUNDS} paired rounds of ${CALLS_PER_LOOP} session.run calls (tiny Gemm + Softmax model)`,
);
console.log('round   bare (µs/call)   instrumented (µs/call)   ratio');
rounds.slice(0, SHOWN_ROUNDS).forEach((round, index) => {
  console.log(
    `${String(index).padStart(5)}   ${microseconds(round.bare).toFixed(2).padStart(14)}   ${microseconds(round.withInstrument).toFixed(2).padStart(22)}   ${round.ratio.toFixed(4)}`,
  );
});
const ratio = median(rounds.map((round) => round.ratio));
const bareMicroseconds = microseconds(median(rounds.map((round) => round.bare)));
const instrumentedMicroseconds = microseconds(median(rounds.map((round) => round.withInstrument)));
console.log(
  `median: bare ${bareMicroseconds.toFixed(2)} µs/call, instrumented ${instrumentedMicroseconds.toFixed(2)} µs/call, ratio ${ratio.toFixed(4)} (limit ${MAX_OVERHEAD_RATIO})`,
);
const result = {
  name: NAME,
  metrics: {
    'bare (us per call)': Number(bareMicroseconds.toFixed(3)),
    'instrumented (us per call)': Number(instrumentedMicroseconds.toFixed(3)),
    'overhead (us per call)': Number((instrumentedMicroseconds - bareMicroseconds).toFixed(3)),
    'overhead ratio': Number(ratio.toFixed(4)),
    rounds: ROUNDS,
    'calls per loop': CALLS_PER_LOOP,
  },
  targets: [
    {
      name: 'instrument() overhead per session.run (median ratio of paired rounds)',
      value: Number(ratio.toFixed(4)),
      limit: MAX_OVERHEAD_RATIO,
      pass: ratio <= MAX_OVERHEAD_RATIO,
      level: 'target',
    },
  ],
};
console.log(`RESULT ${JSON.stringify(result)}`);
