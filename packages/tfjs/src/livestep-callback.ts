/**
 * The TensorFlow.js callback: one line in `model.fit` / `model.fitDataset` records params at
 * train begin, metrics per epoch (and optionally per batch), weight histograms, classifier plots
 * at train end, and the run's status.
 *
 *   await model.fit(x, y, { epochs: 10, callbacks: [livestepCallback()] });
 *
 * It subclasses tfjs-layers' Callback, so tfjs hands it the model and unresolved logs: values are
 * read back from the backend only when they are logged (per epoch, and on the batches chosen).
 *
 * tfjs in Node yields to the event loop only from its own plain-object callbacks: a fit on the
 * cpu or wasm backend otherwise runs on microtasks from start to end, and no timer, network
 * request or signal handler runs meanwhile. So the callback gives the event loop a turn at batch
 * and epoch ends when the last turn is older than core's YIELD_INTERVAL_MS (one clock read
 * otherwise), and stops the fit (`model.stopTraining`) once an exit hook has ended the run as
 * interrupted (Ctrl-C, SIGTERM).
 */
import { type Run, type StartRunOptions, startRun, yieldToEventLoop } from '@livestep/core';

import { Callback, type LayersModel } from '@tensorflow/tfjs-layers';
import {
  buildEvaluationPlots,
  checkEvaluationOptions,
  type EvaluationOptions,
} from './evaluation-plots.js';
import { type StopWatching, watchForAbortedFit } from './fit-abort-watch.js';
import { createMetricNamer, normalizePrefix, readLogs, type TrainingLogs } from './log-values.js';
import {
  collectFitParams,
  currentLearningRate,
  type FitSettings,
  modelSummaryText,
} from './model-params.js';
import { buildWeightHistograms, DEFAULT_HISTOGRAM_BINS } from './weight-histograms.js';

/** Milliseconds per second, for durations and rates. */
const MILLISECONDS_PER_SECOND = 1000;

/**
 * The global batch step each run has reached, so that a second fit on the same run (with a new
 * callback) continues its per-batch series instead of writing over them. Weak: runs are freed.
 */
const batchStepByRun = new WeakMap<Run, number>();

export interface LivestepCallbackOptions {
  /**
   * The run to record into. The callback leaves it open: end it yourself (`await run.end()`).
   * Without one, the callback starts a run at train begin and ends it at train end.
   */
  run?: Run;
  /** Options for the run the callback starts when no `run` is given (experiment, name, sinks...). */
  runOptions?: StartRunOptions;
  /**
   * Log the batch metrics every this many batches, under `train/batch/<metric>` with a global
   * batch step (1 = every batch). Default 0: per-epoch metrics only.
   */
  logEveryBatches?: number;
  /** Record a histogram of every weight every this many epochs. Default 0: none. */
  histogramsEveryEpochs?: number;
  /** Bins per weight histogram (default 30). */
  histogramBins?: number;
  /**
   * Data to draw classifier plots from at train end: confusion matrix, ROC and precision-recall
   * (one-vs-rest per class for more than two classes).
   */
  evaluation?: EvaluationOptions;
  /** Put before every metric, plot and param name: `fold-1` gives `fold-1/train/loss`. */
  prefix?: string;
  /** Record the model summary text as an annotation at train begin (default true). */
  modelSummary?: boolean;
  /** Where the callback's own warnings go (default: the run's warning handler, else process.emitWarning). */
  onWarning?: (message: string) => void;
}

function checkCount(value: unknown, option: string, minimum: number): number {
  if (value === undefined) return minimum === 0 ? 0 : Number.NaN;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
    throw new TypeError(
      `livestep: livestepCallback ${option} is ${JSON.stringify(value)}; pass an integer >= ${minimum}`,
    );
  }
  return value;
}

function defaultWarning(message: string): void {
  const emit = globalThis.process?.emitWarning;
  if (typeof emit === 'function')
    emit.call(globalThis.process, message, { type: 'LivestepWarning' });
  else console.warn(message);
}

/** Nests params under the prefix's segments: `fold-1/` puts them under `fold-1`. */
function underPrefix(prefix: string, params: Record<string, unknown>): Record<string, unknown> {
  let nested = params;
  for (const segment of prefix.split('/').filter(Boolean).reverse()) nested = { [segment]: nested };
  return nested;
}

/**
 * A tfjs callback that records a fit into a livestep run. Make one with `livestepCallback()`;
 * an instance can serve several fits one after the other (not at the same time).
 */
export class LivestepCallback extends Callback {
  private readonly explicitRun: Run | undefined;
  private readonly runOptions: StartRunOptions;
  private readonly logEveryBatches: number;
  private readonly histogramsEveryEpochs: number;
  private readonly histogramBins: number;
  private readonly evaluation: EvaluationOptions | undefined;
  private readonly prefix: string;
  private readonly recordSummary: boolean;
  private readonly warn: (message: string) => void;
  private readonly names: ReturnType<typeof createMetricNamer>;

  private activeRun: Run | undefined;
  private ownsRun = false;
  private stopWatching: StopWatching = () => {};
  private batchStep = 0;
  private epochStartedAt = 0;
  private epochSamples = 0;
  private epochsDone = 0;
  private currentEpoch: number | undefined;
  private lastEpoch: number | undefined;
  private lastStep: number | undefined;
  private fitName = 'model.fit()';
  private warnedNoModel = false;

  constructor(options: LivestepCallbackOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('livestep: livestepCallback takes an options object, e.g. { run }');
    }
    if (options.run !== undefined && typeof options.run?.logMetric !== 'function') {
      throw new TypeError(
        'livestep: livestepCallback run must be a run from startRun() (@livestep/core)',
      );
    }
    if (options.run !== undefined && options.runOptions !== undefined) {
      throw new TypeError(
        'livestep: livestepCallback got both run and runOptions; runOptions configure the run the callback starts itself, so pass one or the other',
      );
    }
    this.explicitRun = options.run;
    this.runOptions = options.runOptions ?? {};
    this.logEveryBatches = checkCount(options.logEveryBatches, 'logEveryBatches', 0);
    this.histogramsEveryEpochs = checkCount(
      options.histogramsEveryEpochs,
      'histogramsEveryEpochs',
      0,
    );
    this.histogramBins =
      options.histogramBins === undefined
        ? DEFAULT_HISTOGRAM_BINS
        : checkCount(options.histogramBins, 'histogramBins', 1);
    if (options.evaluation !== undefined) checkEvaluationOptions(options.evaluation);
    this.evaluation = options.evaluation;
    this.prefix = normalizePrefix(options.prefix);
    this.recordSummary = options.modelSummary !== false;
    this.warn = options.onWarning ?? this.runOptions.onWarning ?? defaultWarning;
    this.names = createMetricNamer(this.prefix);

    // Own, bound hooks: when a plain-object callback comes first in the list, tfjs wraps every
    // entry as a plain-object callback and calls these hooks with another `this` (tfjs issue
    // 1792). Bound, they still record (in the reduced way onTrainBegin explains).
    this.onTrainBegin = this.onTrainBegin.bind(this);
    this.onTrainEnd = this.onTrainEnd.bind(this);
    this.onEpochBegin = this.onEpochBegin.bind(this);
    this.onEpochEnd = this.onEpochEnd.bind(this);
    this.onBatchEnd = this.onBatchEnd.bind(this);
  }

  /** The run being recorded (or the last one, after an owned run ended). */
  get run(): Run | undefined {
    return this.activeRun ?? this.explicitRun;
  }

  private get trainingModel(): LayersModel | undefined {
    return (this.model as LayersModel | null) ?? undefined;
  }

  override async onTrainBegin(_logs?: TrainingLogs): Promise<void> {
    const settings = (this.params ?? {}) as FitSettings;
    const model = this.trainingModel;
    this.fitName =
      settings.samples == null && settings.batchSize == null ? 'model.fitDataset()' : 'model.fit()';
    const params = underPrefix(this.prefix, collectFitParams(model, settings));

    let run: Run;
    if (this.explicitRun !== undefined) {
      run = this.explicitRun;
      this.ownsRun = false;
      run.logParams(params);
    } else {
      run = startRun(this.runOptions);
      this.ownsRun = true;
      run.logParams(params);
    }
    this.activeRun = run;
    try {
      const initialEpoch = settings.initialEpoch ?? 0;
      // Resuming from a checkpoint at epoch N: start the steps at N too, unless the run is further.
      if (run.step < initialEpoch) run.setStep(initialEpoch);
      this.batchStep = batchStepByRun.get(run) ?? 0;
      this.epochsDone = 0;
      this.lastEpoch = undefined;
      this.currentEpoch = undefined;
      this.lastStep = undefined;

      if (model === undefined) {
        this.warnNoModel(run);
        return;
      }
      if (this.recordSummary) {
        const summary = modelSummaryText(model);
        if (summary !== undefined) {
          run.annotate(summary, { labels: { kind: 'model-summary' } });
        }
      }
      this.stopWatching = watchForAbortedFit(model, () => this.onFitAborted());
    } catch (error) {
      await this.fail(error);
      throw error;
    }
  }

  override async onEpochBegin(epoch: number, _logs?: TrainingLogs): Promise<void> {
    this.currentEpoch = epoch;
    this.epochSamples = 0;
    this.epochStartedAt = performance.now();
  }

  override async onBatchEnd(_batch: number, logs?: TrainingLogs): Promise<void> {
    const size = logs?.size;
    if (typeof size === 'number') this.epochSamples += size;
    const step = this.batchStep++;
    const run = this.activeRun;
    if (run === undefined || this.stopIfInterrupted(run)) return;
    if (this.logEveryBatches === 0 || step % this.logEveryBatches !== 0) {
      await this.letEventLoopTurn(run);
      return;
    }
    try {
      const values = await readLogs(logs);
      // One call per value: logMetrics would validate every name twice on this hot path.
      const options = { step };
      for (const [key, value] of values) run.logMetric(this.names.batch(key), value, options);
    } catch (error) {
      await this.fail(error);
      throw error;
    }
    await this.letEventLoopTurn(run);
  }

  /**
   * Gives timers, I/O and signal handlers their turn when one is due (see the top of this file),
   * then stops the fit if an exit hook ended the run meanwhile.
   */
  private async letEventLoopTurn(run: Run): Promise<void> {
    await yieldToEventLoop();
    this.stopIfInterrupted(run);
  }

  /** True (and the fit told to stop) once the run ended while training: a signal ended it. */
  private stopIfInterrupted(run: Run): boolean {
    if (!run.ended) return false;
    const model = this.trainingModel;
    if (model !== undefined) model.stopTraining = true;
    return true;
  }

  override async onEpochEnd(epoch: number, logs?: TrainingLogs): Promise<void> {
    const run = this.activeRun;
    if (run === undefined || this.stopIfInterrupted(run)) return;
    try {
      const seconds = (performance.now() - this.epochStartedAt) / MILLISECONDS_PER_SECOND;
      const values = await readLogs(logs);
      const metrics: Record<string, number> = {};
      for (const [key, value] of values) metrics[this.names.epoch(key)] = value;
      metrics[`${this.prefix}train/epoch_seconds`] = seconds;
      if (this.epochSamples > 0 && seconds > 0) {
        metrics[`${this.prefix}train/samples_per_second`] = this.epochSamples / seconds;
      }
      const learningRate = currentLearningRate(this.trainingModel);
      if (learningRate !== undefined) metrics[`${this.prefix}train/learning_rate`] = learningRate;

      const step = run.step;
      run.logMetrics(metrics, { step });
      run.nextStep();
      this.lastEpoch = epoch;
      this.lastStep = step;
      this.epochsDone++;
      batchStepByRun.set(run, this.batchStep);

      const model = this.trainingModel;
      if (
        model !== undefined &&
        this.histogramsEveryEpochs > 0 &&
        this.epochsDone % this.histogramsEveryEpochs === 0
      ) {
        for (const { name, plot } of await buildWeightHistograms(
          model,
          this.prefix,
          step,
          this.histogramBins,
        )) {
          run.logPlot(name, plot);
        }
      }
    } catch (error) {
      await this.fail(error);
      throw error;
    }
    await this.letEventLoopTurn(run);
  }

  override async onTrainEnd(_logs?: TrainingLogs): Promise<void> {
    this.stopWatching();
    this.stopWatching = () => {};
    const run = this.activeRun;
    if (run === undefined) return;
    batchStepByRun.set(run, this.batchStep);
    // Ended while training (Ctrl-C): the exit hook recorded it as interrupted; add nothing.
    if (run.ended) return;
    try {
      const model = this.trainingModel;
      const settings = (this.params ?? {}) as FitSettings;
      const epochs = settings.epochs ?? undefined;
      const stopped =
        model?.stopTraining === true &&
        this.lastEpoch !== undefined &&
        (epochs === undefined || this.lastEpoch + 1 < epochs);
      if (stopped) {
        run.logParams(underPrefix(this.prefix, { fit: { stoppedEpoch: this.lastEpoch } }));
        run.annotate(
          `training stopped early after epoch ${this.lastEpoch} (model.stopTraining was set, e.g. by EarlyStopping)`,
          { labels: { kind: 'early-stop' } },
        );
      }
      if (model !== undefined && this.evaluation !== undefined) {
        const step = this.lastStep ?? run.step;
        const result = await buildEvaluationPlots(model, this.evaluation, this.prefix, step);
        for (const { name, plot } of result.plots) run.logPlot(name, plot);
        for (const reason of result.skipped) {
          run.annotate(`livestep: evaluation plot skipped: ${reason}`, { level: 'warning' });
        }
      }
    } catch (error) {
      await this.fail(error);
      throw error;
    }
    if (this.ownsRun) await run.end('completed');
  }

  /** The fit threw (tfjs called no hook): end an owned run as failed, note it on a given one. */
  private onFitAborted(): void {
    const run = this.activeRun;
    if (run === undefined) return;
    batchStepByRun.set(run, this.batchStep);
    const where =
      this.currentEpoch === undefined ? 'before the first epoch' : `in epoch ${this.currentEpoch}`;
    const message = `livestep: ${this.fitName} threw ${where}; the error went to the caller of ${this.fitName}`;
    if (this.ownsRun) {
      void run.end('failed', { error: new Error(message) });
    } else if (!run.ended) {
      run.annotate(`${message}; the run is left open for the caller`, {
        level: 'error',
        labels: { kind: 'fit-failed' },
      });
    }
  }

  /** An error in this callback's own work: an owned run ends as failed, with the error. */
  private async fail(error: unknown): Promise<void> {
    this.stopWatching();
    this.stopWatching = () => {};
    const run = this.activeRun;
    if (run !== undefined && this.ownsRun && !run.ended) await run.end('failed', { error });
  }

  private warnNoModel(run: Run): void {
    const message =
      'livestep: livestepCallback() did not receive the model: a plain-object callback comes first in the callbacks list, so tfjs treated every entry as a plain object (tfjs issue 1792). Only epoch and batch metrics are recorded. Put livestepCallback() first, or wrap each plain object in new tf.CustomCallback({...}).';
    run.annotate(message, { level: 'warning', labels: { kind: 'callback-order' } });
    if (!this.warnedNoModel) {
      this.warnedNoModel = true;
      this.warn(message);
    }
  }
}

/**
 * One callback for `model.fit` / `model.fitDataset`:
 *
 *   await model.fit(x, y, { epochs: 20, validationSplit: 0.2, callbacks: [livestepCallback()] });
 *
 * Without `run` it starts a run at train begin and ends it at train end (failed if the fit
 * throws); with `run` it records into that run and leaves it open.
 */
export function livestepCallback(options: LivestepCallbackOptions = {}): LivestepCallback {
  return new LivestepCallback(options);
}
