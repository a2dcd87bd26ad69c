// biome-ignore-all lint/style/noExcessiveLinesPerFile: the tfjs Callback class: one method per tfjs hook, in the order tfjs calls them, which the file documents.
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
 *
 * Steps: one per epoch. Without a prefix they are the run's own (`run.step`), so a second fit on a
 * run continues them; each prefix has steps of its own on a run, from 0, so k-fold on one run
 * gives every fold's series from step 0. Batch steps follow the epoch steps (set the run's step
 * back and they go back too). Every note (annotation) carries the step of the epoch it is about.
 */
import {
  type EndOptions,
  type Run,
  type StartRunOptions,
  startRun,
  yieldToEventLoop,
} from '@livestep/core';
import { readEnvironmentConfig } from '@livestep/core/sink-kit';

import { Callback, CustomCallback, LayersModel } from '@tensorflow/tfjs-layers';
import {
  buildEvaluationPlots,
  checkEvaluationOptions,
  type EvaluationOptions,
  type PreparedEvaluation,
  prepareEvaluation,
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
 * Where the fits recorded into one run under one prefix have got to, so that a second fit on the
 * same run (with a new callback) continues its series instead of writing over them, and each
 * prefix (k-fold: `fold-1`, `fold-2`) has series of its own, starting at step 0.
 */
interface FitSteps {
  /** The epoch step after the last epoch recorded: where a continuing fit starts. */
  nextEpochStep: number;
  /** The global batch step reached. */
  batchStep: number;
  /**
   * The batch step each epoch step began at. When the epoch steps are moved back
   * (`run.setStep(0)` between two fits) the batch steps go back with them.
   */
  batchStepAtEpochStep: Map<number, number>;
}

/** FitSteps by run, then by prefix (`''` for none). Weak: runs are freed. */
const stepsByRun = new WeakMap<Run, Map<string, FitSteps>>();

/**
 * The prefix of the last run a callback started in each folder. A callback started without
 * `run` starts a run per fit, and a new run clears its folder (DVCLive's layout): k-fold written
 * that way keeps only the last fold, which deserves a warning naming the fix.
 */
const prefixByOwnedRunFolder = new Map<string, string>();

export interface LivestepCallbackOptions {
  /**
   * The run to record into. The callback leaves it open: end it yourself (`await run.end()`).
   * Without one, the callback starts a run at train begin and ends it at train end.
   */
  run?: Run;
  /** Options for the run the callback starts when no `run` is given (experiment, name, sinks...). */
  runOptions?: StartRunOptions;
  /**
   * How long the `end()` of the run the callback starts waits for delivery (network sinks) at
   * train end, in milliseconds; passed as `run.end(status, { timeoutMs })`. Default: core's
   * `end()` default. Past it, `fit()` returns and `end()` reports what is left (the HTTP sink
   * spools it). Only for the run the callback starts: with `run`, pass the timeout to your own
   * `run.end()`.
   */
  endTimeoutMs?: number;
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
   * (one-vs-rest per class for more than two classes; per output for several outputs). Checked
   * against the model at train begin.
   */
  evaluation?: EvaluationOptions;
  /**
   * Put before every metric, plot and param name: `fold-1` gives `fold-1/train/loss`. Each prefix
   * has its own steps on a run: k-fold on one run gives every fold's series from step 0.
   */
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

function stepsFor(run: Run, prefix: string): FitSteps | undefined {
  return stepsByRun.get(run)?.get(prefix);
}

function rememberSteps(run: Run, prefix: string, steps: FitSteps): void {
  let byPrefix = stepsByRun.get(run);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    stepsByRun.set(run, byPrefix);
  }
  byPrefix.set(prefix, steps);
}

/** The batch step a fit starting at epoch step `start` begins at (see FitSteps). */
function firstBatchStep(steps: FitSteps | undefined, start: number): number {
  if (steps === undefined) return 0;
  if (start === steps.nextEpochStep) return steps.batchStep;
  return steps.batchStepAtEpochStep.get(start) ?? (start === 0 ? 0 : steps.batchStep);
}

/**
 * A tfjs callback that records a fit into a livestep run. Make one with `livestepCallback()`;
 * an instance can serve several fits one after the other (not at the same time).
 */
export class LivestepCallback extends Callback {
  private readonly explicitRun: Run | undefined;
  private readonly runOptions: StartRunOptions;
  private readonly endOptions: EndOptions;
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
  private steps: FitSteps = { nextEpochStep: 0, batchStep: 0, batchStepAtEpochStep: new Map() };
  /** With a prefix: the step of the epoch in progress (without one, the run's step is). */
  private prefixEpochStep = 0;
  private batchStep = 0;
  private epochStartedAt = 0;
  private epochSamples = 0;
  private epochsDone = 0;
  private currentEpoch: number | undefined;
  /** The step of the epoch in progress, for notes about it (a fit that threw in it). */
  private currentEpochStep: number | undefined;
  private lastEpoch: number | undefined;
  private lastStep: number | undefined;
  private firstStep = 0;
  private fitName = 'model.fit()';
  private preparedEvaluation: PreparedEvaluation | undefined;
  private warnedThisFit = new Set<string>();
  private warnedNoModel = false;
  /** The model, when tfjs wrapped this callback as a plain object and did not hand it over. */
  private adoptedModel: LayersModel | undefined;

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
    if (options.run !== undefined && options.endTimeoutMs !== undefined) {
      throw new TypeError(
        'livestep: livestepCallback got both run and endTimeoutMs; endTimeoutMs is for the run the callback starts itself, so pass the timeout to your own run.end(status, { timeoutMs }) instead',
      );
    }
    this.explicitRun = options.run;
    this.runOptions = options.runOptions ?? {};
    this.endOptions =
      options.endTimeoutMs === undefined
        ? {}
        : { timeoutMs: checkCount(options.endTimeoutMs, 'endTimeoutMs', 0) };
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

    // Own hooks: when a plain-object callback comes first in the list, tfjs wraps every entry as
    // a plain-object callback (tfjs issue 1792) and calls these hooks on the wrapper. Each one
    // runs on this callback, and onTrainBegin takes the fit settings the wrapper was given.
    const prototype = LivestepCallback.prototype;
    const self = this;
    this.onTrainBegin = function (this: unknown, logs?: TrainingLogs) {
      self.adoptFrom(this !== self && this instanceof CustomCallback ? this : undefined);
      return prototype.onTrainBegin.call(self, logs);
    };
    this.onTrainEnd = (logs) => prototype.onTrainEnd.call(this, logs);
    this.onEpochBegin = (epoch, logs) => prototype.onEpochBegin.call(this, epoch, logs);
    this.onEpochEnd = (epoch, logs) => prototype.onEpochEnd.call(this, epoch, logs);
    this.onBatchEnd = (batch, logs) => prototype.onBatchEnd.call(this, batch, logs);
  }

  /** The run being recorded (or the last one, after an owned run ended). */
  get run(): Run | undefined {
    return this.activeRun ?? this.explicitRun;
  }

  private get trainingModel(): LayersModel | undefined {
    return (this.model as LayersModel | null) ?? this.adoptedModel;
  }

  /**
   * Wrapped by tfjs as a plain object: take the fit settings (and the model, if any) the wrapper
   * got, and forget the model of an earlier fit. Not wrapped: tfjs handed both over itself.
   */
  private adoptFrom(wrapper: CustomCallback | undefined): void {
    this.adoptedModel = undefined;
    if (wrapper === undefined) return;
    (this as unknown as { model: LayersModel | null }).model = null;
    const params = (wrapper as unknown as { params?: FitSettings }).params;
    if (params !== undefined && params !== null) this.setParams(params as never);
    const model = (wrapper as unknown as { model?: unknown }).model;
    if (model instanceof LayersModel) this.adoptedModel = model;
  }

  /** The step of the epoch in progress (or the next one, between epochs). */
  private epochStep(run: Run): number {
    return this.prefix === '' ? run.step : this.prefixEpochStep;
  }

  override async onTrainBegin(_logs?: TrainingLogs): Promise<void> {
    const known = this.params !== undefined && this.params !== null;
    const settings = (known ? this.params : {}) as FitSettings;
    const model = this.trainingModel;
    this.fitName =
      known && settings.samples == null && settings.batchSize == null
        ? 'model.fitDataset()'
        : 'model.fit()';
    const params = underPrefix(this.prefix, collectFitParams(model, known ? settings : undefined));

    let run: Run;
    if (this.explicitRun !== undefined) {
      run = this.explicitRun;
      this.ownsRun = false;
    } else {
      run = startRun(this.runOptions);
      this.ownsRun = true;
      this.checkOwnedRunFolder(run);
    }
    this.activeRun = run;
    await this.guarded(async () => {
      run.logParams(params);
      this.warnedThisFit = new Set();
      const initialEpoch = settings.initialEpoch ?? 0;
      const previous = stepsFor(run, this.prefix);
      let start: number;
      if (this.prefix === '') {
        // Resuming from a checkpoint at epoch N: start the steps at N too, unless the run is further.
        if (run.step < initialEpoch) run.setStep(initialEpoch);
        start = run.step;
      } else {
        start = Math.max(previous?.nextEpochStep ?? 0, initialEpoch);
        this.prefixEpochStep = start;
      }
      this.batchStep = firstBatchStep(previous, start);
      this.steps = previous ?? {
        nextEpochStep: start,
        batchStep: this.batchStep,
        batchStepAtEpochStep: new Map(),
      };
      this.steps.batchStepAtEpochStep.set(start, this.batchStep);
      rememberSteps(run, this.prefix, this.steps);
      this.firstStep = start;
      this.epochsDone = 0;
      this.lastEpoch = undefined;
      this.currentEpoch = undefined;
      this.currentEpochStep = undefined;
      this.lastStep = undefined;
      this.preparedEvaluation = undefined;

      if (model === undefined) {
        this.warnNoModel(run, known, start);
        return;
      }
      if (this.evaluation !== undefined) {
        this.preparedEvaluation = await prepareEvaluation(model, this.evaluation);
      }
      if (this.recordSummary) {
        const summary = modelSummaryText(model);
        if (summary !== undefined) {
          run.annotate(summary, { step: start, labels: { kind: 'model-summary' } });
        }
      }
      this.stopWatching = watchForAbortedFit(model, () => this.onFitAborted());
    });
  }

  override async onEpochBegin(epoch: number, _logs?: TrainingLogs): Promise<void> {
    this.currentEpoch = epoch;
    this.epochSamples = 0;
    this.epochStartedAt = performance.now();
    const run = this.activeRun;
    if (run === undefined) return;
    this.currentEpochStep = this.epochStep(run);
    this.steps.batchStepAtEpochStep.set(this.currentEpochStep, this.batchStep);
  }

  override async onBatchEnd(_batch: number, logs?: TrainingLogs): Promise<void> {
    const size = logs?.size;
    if (typeof size === 'number') this.epochSamples += size;
    const step = this.batchStep++;
    this.steps.batchStep = this.batchStep;
    const run = this.activeRun;
    if (run === undefined || this.stopIfInterrupted(run)) return;
    if (this.logEveryBatches === 0 || step % this.logEveryBatches !== 0) {
      await this.letEventLoopTurn(run);
      return;
    }
    await this.guarded(async () => {
      const values = await readLogs(logs);
      // One call per value: logMetrics would validate every name twice on this hot path.
      const options = { step };
      for (const [key, value] of values) run.logMetric(this.names.batch(key), value, options);
    });
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
    await this.guarded(async () => {
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

      const step = this.epochStep(run);
      run.logMetrics(metrics, { step });
      if (this.prefix === '') run.nextStep();
      else this.prefixEpochStep = step + 1;
      this.lastEpoch = epoch;
      this.lastStep = step;
      this.epochsDone++;
      this.steps.nextEpochStep = step + 1;
      this.steps.batchStep = this.batchStep;
      this.steps.batchStepAtEpochStep.set(step + 1, this.batchStep);

      const model = this.trainingModel;
      if (
        model !== undefined &&
        this.histogramsEveryEpochs > 0 &&
        this.epochsDone % this.histogramsEveryEpochs === 0
      ) {
        const histograms = await buildWeightHistograms(
          model,
          this.prefix,
          step,
          this.histogramBins,
        );
        for (const { name, plot } of histograms.plots) run.logPlot(name, plot);
        if (histograms.nonFinite.length > 0) {
          this.warnOnRun(
            run,
            'histograms-skipped',
            `livestep: weight histograms skipped at epoch ${epoch}: ${histograms.nonFinite.join(', ')} hold NaN or infinite values (did the loss diverge?)`,
            step,
          );
        }
      }
    });
    await this.letEventLoopTurn(run);
  }

  override async onTrainEnd(_logs?: TrainingLogs): Promise<void> {
    this.stopWatching();
    this.stopWatching = () => {};
    const run = this.activeRun;
    if (run === undefined) return;
    // Ended while training (Ctrl-C): the exit hook recorded it as interrupted; add nothing.
    if (run.ended) return;
    await this.guarded(async () => {
      const model = this.trainingModel;
      const settings = (this.params ?? {}) as FitSettings;
      const epochs = settings.epochs ?? undefined;
      const step = this.lastStep ?? this.firstStep;
      const stopped =
        model?.stopTraining === true &&
        this.lastEpoch !== undefined &&
        (epochs === undefined || this.lastEpoch + 1 < epochs);
      if (stopped) {
        run.logParams(underPrefix(this.prefix, { fit: { stoppedEpoch: this.lastEpoch } }));
        run.annotate(
          `training stopped early after epoch ${this.lastEpoch} (model.stopTraining was set, e.g. by EarlyStopping)`,
          { step, labels: { kind: 'early-stop' } },
        );
      }
      if (model !== undefined && this.preparedEvaluation !== undefined) {
        const result = await buildEvaluationPlots(
          model,
          this.preparedEvaluation,
          this.prefix,
          step,
        );
        for (const { name, plot } of result.plots) run.logPlot(name, plot);
        for (const reason of result.skipped) {
          this.warnOnRun(
            run,
            'evaluation-skipped',
            `livestep: evaluation plots skipped: ${reason}`,
            step,
          );
        }
      }
    });
    if (this.ownsRun) await run.end('completed', this.endOptions);
  }

  /** The fit threw (tfjs called no hook): end an owned run as failed, note it on a given one. */
  private onFitAborted(): void {
    const run = this.activeRun;
    if (run === undefined) return;
    const where =
      this.currentEpoch === undefined ? 'before the first epoch' : `in epoch ${this.currentEpoch}`;
    const message = `livestep: ${this.fitName} threw ${where}; the error went to the caller of ${this.fitName}`;
    if (this.ownsRun) {
      void run.end('failed', { ...this.endOptions, error: new Error(message) });
    } else if (!run.ended) {
      run.annotate(`${message}; the run is left open for the caller`, {
        level: 'error',
        step: this.currentEpochStep ?? this.firstStep,
        labels: { kind: 'fit-failed' },
      });
    }
  }

  /**
   * The callback's own work in a hook: an error in it ends an owned run as failed, with the error,
   * and is rethrown to tfjs.
   */
  private async guarded(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await this.endOwnedRunAsFailed(error);
      throw error;
    }
  }

  /** An error in this callback's own work: an owned run ends as failed, with the error. */
  private async endOwnedRunAsFailed(error: unknown): Promise<void> {
    this.stopWatching();
    this.stopWatching = () => {};
    const run = this.activeRun;
    if (run !== undefined && this.ownsRun && !run.ended) {
      await run.end('failed', { ...this.endOptions, error });
    }
  }

  /** A warning that belongs to the run: an annotation each time, the warning handler once a fit. */
  private warnOnRun(run: Run, kind: string, message: string, step: number): void {
    run.annotate(message, { level: 'warning', step, labels: { kind } });
    if (!this.warnedThisFit.has(kind)) {
      this.warnedThisFit.add(kind);
      this.warn(message);
    }
  }

  /** A run started per fit clears its folder: warn when that drops another prefix's fit. */
  private checkOwnedRunFolder(run: Run): void {
    const folder = run.directory;
    if (folder === undefined || this.prefix === '') return;
    const resumes =
      this.runOptions.resume ??
      readEnvironmentConfig(this.runOptions.environment ?? process.env).resume;
    const earlier = prefixByOwnedRunFolder.get(folder);
    prefixByOwnedRunFolder.set(folder, this.prefix);
    if (resumes || earlier === undefined || earlier === this.prefix) return;
    const prefix = this.prefix.slice(0, -1);
    this.warn(
      `livestep: livestepCallback prefix "${prefix}" started a new run in ${folder}, which replaces what the run for prefix "${earlier.slice(0, -1)}" wrote there. For k-fold, start one run and pass it to every fold: livestepCallback({ run, prefix: "${prefix}" }), then await run.end() after the last fold.`,
    );
  }

  private warnNoModel(run: Run, knowsSettings: boolean, step: number): void {
    const message = `livestep: livestepCallback() did not receive the model: a plain-object callback comes first in the callbacks list, so tfjs treated every entry as a plain object (tfjs issue 1792). Only ${knowsSettings ? 'the fit settings and ' : ''}epoch and batch metrics are recorded (no model params, no plots, no failure detection, no stop on Ctrl-C), and every batch's values are read back from the backend. Fix: wrap each plain object in new tf.CustomCallback({ ... }); then any order works.`;
    run.annotate(message, { level: 'warning', step, labels: { kind: 'callback-order' } });
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
