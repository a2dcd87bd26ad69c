/**
 * The params a fit records at train begin, read from what tfjs gives a callback: the model, its
 * optimizer and compile settings, the fit settings (setParams) and the tfjs runtime.
 */
import { getBackend, version_core } from '@tensorflow/tfjs-core';
import { type LayersModel, version_layers } from '@tensorflow/tfjs-layers';

/** The settings tfjs passes to every callback's setParams. */
export interface FitSettings {
  epochs?: number | null;
  initialEpoch?: number | null;
  samples?: number | null;
  steps?: number | null;
  batchSize?: number | null;
  verbose?: number | null;
  doValidation?: boolean | null;
  metrics?: string[] | null;
}

/** Suffix tfjs gives the functional model a Sequential trains through (`sequential_1_model`). */
const SEQUENTIAL_INNER_SUFFIX = '_model';

type Described = string | string[] | Record<string, string>;

/** A loss or metric as params: its name (tfjs compile accepts names and functions). */
function describeLossOrMetric(value: unknown): Described | undefined {
  const nameOf = (item: unknown) =>
    typeof item === 'string'
      ? item
      : typeof item === 'function'
        ? item.name || 'custom'
        : String(item);
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(nameOf);
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        key,
        Array.isArray(item) ? item.map(nameOf).join(', ') : nameOf(item),
      ]),
    );
  }
  return nameOf(value);
}

/** Plain JSON data only (an optimizer config may hold numbers, strings, booleans, nulls). */
function plainConfig(config: unknown): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (typeof config !== 'object' || config === null) return result;
  for (const [key, value] of Object.entries(config)) {
    if (['number', 'string', 'boolean'].includes(typeof value) || value === null) {
      result[key] = value;
    }
  }
  return result;
}

function countWeights(weights: ReadonlyArray<{ shape: ReadonlyArray<number | null> }>): number {
  let total = 0;
  for (const weight of weights) {
    total += weight.shape.reduce<number>((product, size) => product * (size ?? 1), 1);
  }
  return total;
}

/**
 * A Sequential model trains through an inner functional model (named `<name>_model`, with an
 * InputLayer first); callbacks see that inner model. Report what the user built.
 */
function describeModelClass(model: LayersModel): { className: string; name: string } {
  const className = model.getClassName();
  const layers = model.layers;
  if (
    model.name.endsWith(SEQUENTIAL_INNER_SUFFIX) &&
    layers[0]?.getClassName() === 'InputLayer' &&
    model.inputs.length === 1 &&
    model.outputs.length === 1 &&
    layers.every((layer) => layer.inboundNodes.length <= 1)
  ) {
    return { className: 'Sequential', name: model.name.slice(0, -SEQUENTIAL_INNER_SUFFIX.length) };
  }
  return { className, name: model.name };
}

/** The model's summary as printed by `model.summary()`, captured instead of printed. */
export function modelSummaryText(model: LayersModel): string | undefined {
  const lines: string[] = [];
  try {
    model.summary(undefined, undefined, (...message: unknown[]) => {
      lines.push(message.map(String).join(' '));
    });
  } catch {
    return undefined;
  }
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/** The optimizer's current learning rate, when it has a numeric one. */
export function currentLearningRate(model: LayersModel | null | undefined): number | undefined {
  const optimizer = model?.optimizer as { getConfig?: () => unknown } | undefined;
  if (optimizer === undefined || typeof optimizer.getConfig !== 'function') return undefined;
  const learningRate = (optimizer.getConfig() as Record<string, unknown>)?.learningRate;
  return typeof learningRate === 'number' && Number.isFinite(learningRate)
    ? learningRate
    : undefined;
}

/**
 * Everything a fit records as params at train begin. `settings` undefined (tfjs did not give
 * them) records no `fit` section rather than one of nulls; `stoppedEpoch` is null until the
 * callback records an early stop, so a second fit on a run does not keep the first one's.
 */
export function collectFitParams(
  model: LayersModel | null | undefined,
  settings: FitSettings | undefined,
): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (settings !== undefined) params.fit = describeFit(settings);
  params.tfjs = { backend: getBackend() ?? null, version: version_core, layers: version_layers };
  if (model === undefined || model === null) return params;
  Object.assign(params, describeModel(model));
  return params;
}

function describeFit(settings: FitSettings): Record<string, unknown> {
  const steps =
    settings.steps ??
    (settings.samples != null && settings.batchSize != null && settings.batchSize > 0
      ? Math.ceil(settings.samples / settings.batchSize)
      : null);
  return {
    epochs: settings.epochs ?? null,
    initialEpoch: settings.initialEpoch ?? 0,
    batchSize: settings.batchSize ?? null,
    samples: settings.samples ?? null,
    steps,
    validation: settings.doValidation === true,
    metrics: settings.metrics ?? [],
    stoppedEpoch: null,
  };
}

/** The model, its compile settings and its optimizer. */
function describeModel(model: LayersModel): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const { className, name } = describeModelClass(model);
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  const description: Record<string, unknown> = {
    class: className,
    name,
    layers: layers.length,
    trainableParams: countWeights(model.trainableWeights),
    nonTrainableParams: countWeights(model.nonTrainableWeights),
    inputShapes: model.inputs.map((input) => input.shape),
    outputShapes: model.outputs.map((output) => output.shape),
  };
  params.model = description;

  const compile: Record<string, unknown> = {};
  const loss = describeLossOrMetric(model.loss);
  if (loss !== undefined) compile.loss = loss;
  const metrics = describeLossOrMetric(model.metrics);
  if (metrics !== undefined) compile.metrics = metrics;
  compile.metricNames = [...model.metricsNames];
  params.compile = compile;

  const optimizer = model.optimizer;
  if (optimizer !== undefined && optimizer !== null) {
    params.optimizer = { class: optimizer.getClassName(), ...plainConfig(optimizer.getConfig()) };
  }
  return params;
}
