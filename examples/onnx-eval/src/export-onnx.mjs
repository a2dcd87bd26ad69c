#!/usr/bin/env node
// Turns a dense-classifier weights JSON (the format examples/tfjs-fit exports, and
// train-weights.mjs writes) into an ONNX model, without Python: the graph is encoded with the
// onnx-proto package.
//
//   features float32 [batch, n] -> Sub(mean) -> Div(std) -> (Gemm -> Relu)* -> Gemm -> Softmax
//   -> probabilities float32 [batch, classes]
//
// Usage:
//   node src/export-onnx.mjs                          both models in models/ (*.weights.json -> *.onnx)
//   node src/export-onnx.mjs <weights.json> <out.onnx>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
// Only this export step needs onnx-proto (a devDependency); evaluating the models does not.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export const WEIGHTS_FORMAT = 'livestep-dense-classifier/1';
/** Opset 13: Gemm, Relu and Softmax over the last axis; every onnxruntime >= 1.8 runs it. */
const OPSET = 13;
/** IR version 8 (ONNX 1.10), the newest onnx-proto 8 encodes. */
const IR_VERSION = 8;
const PRODUCER_NAME = 'livestep-export-onnx';
const PRODUCER_VERSION = '1';
const ACTIVATIONS = { relu: 'Relu', softmax: 'Softmax', linear: undefined };

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function check(condition, message) {
  if (!condition) throw new Error(`export-onnx: ${message}`);
}

function validate(weights) {
  check(
    weights?.format === WEIGHTS_FORMAT,
    `format is ${JSON.stringify(weights?.format)}; expected "${WEIGHTS_FORMAT}"`,
  );
  check(
    Array.isArray(weights.layers) && weights.layers.length > 0,
    'layers must be a non-empty array',
  );
  let inputs = weights.featureNames.length;
  check(
    weights.normalization.mean.length === inputs && weights.normalization.std.length === inputs,
    'normalization mean and std need one value per feature',
  );
  weights.layers.forEach((layer, index) => {
    check(
      layer.activation in ACTIVATIONS,
      `layers[${index}].activation is ${JSON.stringify(layer.activation)}; use relu, softmax or linear`,
    );
    check(
      layer.kernel.length === inputs,
      `layers[${index}].kernel has ${layer.kernel.length} rows; expected ${inputs} (one per input)`,
    );
    check(
      layer.kernel.every((row) => row.length === layer.units),
      `layers[${index}].kernel rows need ${layer.units} values (one per unit)`,
    );
    check(layer.bias.length === layer.units, `layers[${index}].bias needs ${layer.units} values`);
    inputs = layer.units;
  });
  check(
    inputs === weights.classNames.length,
    `the last layer has ${inputs} units but there are ${weights.classNames.length} classes`,
  );
}

const tensor = (name, dims, values) => ({ name, dims, dataType: FLOAT, floatData: values });
const valueInfo = (name, dims) => ({
  name,
  type: {
    tensorType: {
      elemType: FLOAT,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  },
});

/** The ONNX model (bytes) of a dense classifier's weights. */
export function exportDenseClassifier(weights, { graphName = 'dense_classifier' } = {}) {
  validate(weights);
  const features = weights.featureNames.length;
  const classes = weights.classNames.length;
  const nodes = [
    { name: 'normalize_sub', opType: 'Sub', input: ['features', 'mean'], output: ['centered'] },
    { name: 'normalize_div', opType: 'Div', input: ['centered', 'std'], output: ['normalized'] },
  ];
  const initializers = [
    tensor('mean', [features], weights.normalization.mean),
    tensor('std', [features], weights.normalization.std),
  ];
  let current = 'normalized';
  weights.layers.forEach((layer, index) => {
    const last = index === weights.layers.length - 1;
    const operator = ACTIVATIONS[layer.activation];
    const kernel = `dense_${index}/kernel`;
    const bias = `dense_${index}/bias`;
    initializers.push(tensor(kernel, [layer.kernel.length, layer.units], layer.kernel.flat()));
    initializers.push(tensor(bias, [layer.units], layer.bias));
    const output = operator === undefined && last ? 'probabilities' : `dense_${index}/output`;
    nodes.push({
      name: `dense_${index}`,
      opType: 'Gemm',
      input: [current, kernel, bias],
      output: [output],
    });
    current = output;
    if (operator !== undefined) {
      const activated = last ? 'probabilities' : `dense_${index}/${layer.activation}`;
      const attribute =
        operator === 'Softmax'
          ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }]
          : [];
      nodes.push({
        name: `dense_${index}_${layer.activation}`,
        opType: operator,
        input: [current],
        output: [activated],
        attribute,
      });
      current = activated;
    }
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    docString: weights.description ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: [
      { key: 'feature_names', value: weights.featureNames.join(',') },
      { key: 'class_names', value: weights.classNames.join(',') },
    ],
    graph: {
      name: graphName,
      node: nodes,
      initializer: initializers,
      input: [valueInfo('features', ['batch', features])],
      output: [valueInfo('probabilities', ['batch', classes])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function exportFile(input, output) {
  const weights = JSON.parse(readFileSync(input, 'utf8'));
  const bytes = exportDenseClassifier(weights);
  writeFileSync(output, bytes);
  console.log(`wrote ${output} (${bytes.length} bytes)`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [input, output] = process.argv.slice(2);
  if (input !== undefined) {
    check(output !== undefined, 'usage: node src/export-onnx.mjs <weights.json> <out.onnx>');
    exportFile(input, output);
  } else {
    for (const name of ['iris-mlp', 'iris-weak']) {
      const folder = new URL('../models/', import.meta.url);
      exportFile(
        new URL(`${name}.weights.json`, folder).pathname,
        new URL(`${name}.onnx`, folder).pathname,
      );
    }
  }
}
