import { createNoopSink, startRun } from '@livestep/core';
import { instrument } from '@livestep/onnx';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const valueInfo = (name, width) => ({
  name,
  type: {
    tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } },
  },
});
const model = onnx.ModelProto.encode({
  irVersion: 8,
  producerName: 'x',
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
const session = await ort.InferenceSession.create(model);
const run = startRun({
  experiment: 'b',
  name: 'b',
  sinks: [createNoopSink()],
  exitHooks: false,
  collectGit: false,
  collectMachine: false,
});
const feeds = {
  features: new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2]), [1, 4]),
};
const mode = process.argv[2];
let keep;
if (mode === 'timer') keep = setInterval(() => {}, 250);
const s = mode === 'inst' ? instrument(session, run) : session;
for (let i = 0; i < 5000; i++) await s.run(feeds);
const t = performance.now();
for (let i = 0; i < 50000; i++) await s.run(feeds);
console.log(mode, ((performance.now() - t) / 50).toFixed(2), 'µs/call');
clearInterval(keep);
await run.end();
