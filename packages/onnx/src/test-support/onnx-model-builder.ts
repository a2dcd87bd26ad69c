/**
 * Tiny ONNX models for tests, encoded with onnx-proto (a dev dependency): graphs whose outputs are
 * known exactly, such as Identity (the output is the input, so a test's feeds are the scores) or
 * a fixed Gemm + Softmax.
 */
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/** Opset 13: Softmax over the last axis by default, Gemm, Identity; supported by every runtime >= 1.16. */
export const TEST_OPSET = 13;
/** IR version 8 (ONNX 1.10), the newest onnx-proto 8 encodes. */
export const TEST_IR_VERSION = 8;

export type ElementType = 'float32' | 'float64' | 'int64';

const ELEMENT_TYPES: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
};

export interface ValueSpec {
  name: string;
  /** Numbers are fixed sizes, strings symbolic ones (`batch`). */
  shape: Array<number | string>;
  type?: ElementType;
}

export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Integer attributes (`axis: 1`, `transB: 1`). */
  attributes?: Record<string, number>;
  domain?: string;
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  values: number[];
}

export interface ModelSpec {
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  graphName?: string;
  opsets?: Record<string, number>;
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  metadata?: Record<string, string>;
}

function valueInfo(spec: ValueSpec) {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[spec.type ?? 'float32'],
        shape: {
          dim: spec.shape.map((dimension) =>
            typeof dimension === 'string' ? { dimParam: dimension } : { dimValue: dimension },
          ),
        },
      },
    },
  };
}

/** Encodes a ModelProto. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const opsets = spec.opsets ?? { '': TEST_OPSET };
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? TEST_IR_VERSION,
    producerName: spec.producerName ?? 'livestep-test',
    producerVersion: spec.producerVersion ?? '1.0.0',
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graphName ?? 'test-graph',
      node: spec.nodes.map((node, index) => ({
        name: `${node.opType.toLowerCase()}_${index}`,
        opType: node.opType,
        input: node.inputs,
        output: node.outputs,
        domain: node.domain ?? '',
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => ({
          name,
          type: onnx.AttributeProto.AttributeType.INT,
          i: value,
        })),
      })),
      initializer: (spec.initializers ?? []).map((initializer) => ({
        name: initializer.name,
        dims: initializer.dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: initializer.values,
      })),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * `scores = Identity(input)`: the model outputs its input, so the test's feeds are the scores.
 * `width` values per sample, or one value per sample (shape [batch]) when width is 0.
 */
export function identityModel(
  options: { width?: number; input?: string; output?: string; type?: ElementType } = {},
): Uint8Array {
  const width = options.width ?? 0;
  const shape = width === 0 ? ['batch'] : ['batch', width];
  const input = options.input ?? 'input';
  const output = options.output ?? 'scores';
  return buildModel({
    inputs: [{ name: input, shape, type: options.type ?? 'float32' }],
    outputs: [{ name: output, shape, type: options.type ?? 'float32' }],
    nodes: [{ opType: 'Identity', inputs: [input], outputs: [output] }],
  });
}

/** `probabilities = Softmax(features · kernel + bias)`, kernel [inputs][classes]. */
export function denseSoftmaxModel(kernel: number[][], bias: number[]): Uint8Array {
  const inputs = kernel.length;
  const classes = bias.length;
  return buildModel({
    inputs: [{ name: 'features', shape: ['batch', inputs] }],
    outputs: [{ name: 'probabilities', shape: ['batch', classes] }],
    nodes: [
      { opType: 'Gemm', inputs: ['features', 'kernel', 'bias'], outputs: ['logits'] },
      {
        opType: 'Softmax',
        inputs: ['logits'],
        outputs: ['probabilities'],
        attributes: { axis: 1 },
      },
    ],
    initializers: [
      { name: 'kernel', dims: [inputs, classes], values: kernel.flat() },
      { name: 'bias', dims: [classes], values: bias },
    ],
  });
}

/** A session of onnxruntime-node over model bytes. */
export function createTestSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes);
}

/** A tensor of rows (shape [rows, width]) or of values (shape [values]); float64 keeps test values exact. */
export function tensorOf(
  values: number[][] | number[],
  type: 'float32' | 'float64' = 'float32',
): ort.Tensor {
  const rows = values.length > 0 && Array.isArray(values[0]) ? (values as number[][]) : undefined;
  const flat = rows === undefined ? (values as number[]) : rows.flat();
  const dims = rows === undefined ? [flat.length] : [rows.length, rows[0]!.length];
  const data = type === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat);
  return new ort.Tensor(type, data, dims);
}
