// biome-ignore-all lint/style/noExcessiveLinesPerFile: the Run class is the documented API, one method per logging call; its checks, options and delivery already live in their own files.
/**
 * A run: the object adapters and users log into. Every logging method validates its input,
 * stamps an event (id, seq, ts, step) and pushes it to the dispatcher; it never waits for I/O and
 * never throws because a sink is down. It throws, synchronously, on programmer errors.
 */
import { randomUUID } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { createDefaultSinks } from '../config/default-sinks.js';
import { readEnvironmentConfig } from '../config/environment-config.js';
import { emitLivestepWarning } from '../delivery/livestep-warning.js';
import { IMAGE_EXTENSIONS } from '../dvclive/layout.js';
import { readSavedRun } from '../dvclive/saved-run.js';
import { collectGitInfo } from '../host/git-info.js';
import { hashFile } from '../host/hash-file.js';
import { collectMachineInfo } from '../host/machine-info.js';
import { DeliveryError } from '../pipeline/delivery-error.js';
import { Dispatcher, errorMessage } from '../pipeline/dispatcher.js';
import type { FlushReport } from '../pipeline/sink.js';
import { type ExitParticipant, registerForExit, unregisterForExit } from '../process/exit-hooks.js';
import type {
  AnnotationEvent,
  DoneEvent,
  ImageEvent,
  Labels,
  MetricEvent,
  MetricValue,
  PlotEvent,
  RunEvent,
  RunIdentity,
  RunStatus,
  StartEvent,
} from '../protocol/events.js';
import { ANNOTATION_LEVELS, RUN_STATUSES } from '../protocol/events.js';
import { encodeMetricValue } from '../protocol/metric-value.js';
import { assertValidName, describeType } from '../protocol/names.js';
import {
  checkLabels,
  checkRunName,
  checkSeriesLength,
  checkStep,
  checkTimestamp,
  isStep,
  isTimestamp,
  throwBadSeriesEntry,
} from './check-arguments.js';
import { createEventIdFactory } from './event-id.js';
import { detectImageMime } from './image-type.js';
import { toParams } from './params.js';
import { type PlotInput, toPlotRows } from './plot-input.js';
import { generateRunName } from './run-name.js';
import type {
  AnnotationOptions,
  ArtifactOptions,
  EndOptions,
  ImageOptions,
  MetricOptions,
  MetricSeriesOptions,
  RunState,
  StartRunOptions,
} from './run-options.js';
import {
  DEFAULT_END_TIMEOUT_MS,
  DEFAULT_EXIT_TIMEOUT_MS,
  DEFAULT_FLUSH_TIMEOUT_MS,
} from './run-options.js';

function serializeError(error: unknown): NonNullable<DoneEvent['error']> {
  if (error instanceof Error) {
    const serialized: NonNullable<DoneEvent['error']> = {
      name: error.name,
      message: error.message,
    };
    if (error.stack) serialized.stack = error.stack;
    return serialized;
  }
  return { message: String(error) };
}

export class Run implements AsyncDisposable {
  readonly id: string;
  readonly experiment: string;
  readonly name: string;
  /** The folder the default directory sink writes (absolute); undefined when sinks were given. */
  readonly directory: string | undefined;

  private readonly dispatcher: Dispatcher;
  private readonly eventId: (seq: number) => string;
  private readonly warn: (message: string) => void;
  private readonly exitTimeoutMs: number;
  /** `end()`'s wait when the call gives none: LIVESTEP_END_TIMEOUT_MS, or the default. */
  private readonly endTimeoutMs: number;
  private readonly latestValues = new Map<string, MetricValue>();
  private seq = 0;
  private currentStep = 0;
  private state: RunState = 'running';
  private ending: Promise<FlushReport> | undefined;
  private loggedAfterEnd = 0;
  private readonly exitParticipant: ExitParticipant | undefined;
  /** Adapters' callbacks that log what they buffered (see `beforeFlush`). */
  private readonly bufferedSources = new Set<() => void>();

  constructor(options: StartRunOptions = {}) {
    const environment = options.environment ?? process.env;
    const config = readEnvironmentConfig(environment);
    this.warn = options.onWarning ?? emitLivestepWarning;
    this.exitTimeoutMs = options.exitTimeoutMs ?? DEFAULT_EXIT_TIMEOUT_MS;
    this.endTimeoutMs = config.endTimeoutMs ?? DEFAULT_END_TIMEOUT_MS;
    this.id = randomUUID();
    this.experiment = checkRunName(
      options.experiment ?? config.experiment ?? (basename(process.cwd()) || 'default'),
      'experiment',
    );
    this.name = checkRunName(options.name ?? config.runName ?? generateRunName(), 'run name');
    this.eventId = createEventIdFactory();

    const disabled = options.disabled ?? config.disabled;
    const resume = options.resume ?? config.resume;
    const directory = resolve(options.directory ?? config.directory);
    const usesDefaultSinks = !disabled && options.sinks === undefined;
    this.directory = usesDefaultSinks ? directory : undefined;
    const sinks = disabled
      ? []
      : (options.sinks ??
        createDefaultSinks(
          { ...config, directory, resume },
          {
            environment,
            warn: this.warn,
            writer: `run "${this.name}" (${this.id})`,
            ...(options.dvcYaml !== undefined && { dvcYaml: options.dvcYaml }),
          },
        ));
    if (resume) {
      // DVCLive's resume: continue at the saved step + 1.
      const saved = readSavedRun(directory);
      if (saved.step !== undefined) this.currentStep = saved.step + 1;
    }

    const start: StartEvent = {
      ...this.stamp(),
      kind: 'start',
      experiment: this.experiment,
      name: this.name,
    };
    if (options.collectMachine !== false && !disabled) start.machine = collectMachineInfo();
    if (options.message !== undefined) start.message = String(options.message);
    if (options.tags !== undefined) start.tags = options.tags.map(String);
    if (options.collectGit !== false && !disabled) start.git = collectGitInfo();

    const identity: RunIdentity = { id: this.id, experiment: this.experiment, name: this.name };
    this.dispatcher = new Dispatcher({
      run: identity,
      sinks,
      warn: this.warn,
      ...(options.flushIntervalMs !== undefined && { flushIntervalMs: options.flushIntervalMs }),
      ...(options.maxBatchEvents !== undefined && { maxBatchEvents: options.maxBatchEvents }),
      ...(options.maxQueuedEvents !== undefined && { maxQueuedEvents: options.maxQueuedEvents }),
    });
    this.dispatcher.push(start);
    if (options.params !== undefined) this.logParams(options.params);

    if (options.exitHooks !== false && !disabled) {
      this.exitParticipant = {
        isOpen: () => this.state === 'running',
        endForExit: (status, error) => this.end(status, { error, timeoutMs: this.exitTimeoutMs }),
        endSynchronously: (status) => {
          if (this.state === 'running') {
            this.logBuffered();
            this.recordDone(status);
          }
          this.dispatcher.flushSync();
        },
      };
      registerForExit(this.exitParticipant);
    }
  }

  /** The step metrics are logged at when no step is given. Starts at 0. */
  get step(): number {
    return this.currentStep;
  }

  /** `running` until `end()`, then the final status. */
  get status(): RunState {
    return this.state;
  }

  get ended(): boolean {
    return this.state !== 'running';
  }

  private stamp(): { id: string; seq: number; ts: number } {
    const seq = this.seq++;
    return { id: this.eventId(seq), seq, ts: Date.now() };
  }

  private acceptsEvents(): boolean {
    if (this.state === 'running') return true;
    this.loggedAfterEnd++;
    this.dispatcher.countDropped('logged_after_end', 1);
    if (this.loggedAfterEnd === 1) {
      this.warn(
        `livestep: run "${this.name}" has ended (${this.state}); events logged after end() are not recorded. Log before end(), or start a new run.`,
      );
    }
    return false;
  }

  /** Records one value of a metric. `name` is a `/`-separated path such as `train/loss`. */
  logMetric(name: string, value: number, options?: MetricOptions): void {
    if (!this.acceptsEvents()) return;
    assertValidName(name, 'metric');
    const encoded = encodeMetricValue(name, value);
    let step = this.currentStep;
    let labels: Labels | undefined;
    let ts: number | undefined;
    if (options !== undefined) {
      if (options.step !== undefined) step = checkStep(options.step, 'metric', name);
      if (options.labels !== undefined) labels = checkLabels(options.labels, 'metric', name);
      if (options.timestamp !== undefined) {
        ts = checkTimestamp(options.timestamp, 'metric', name);
      }
    }
    if (labels === undefined) this.latestValues.set(name, encoded);
    // A given timestamp is not the clock: the dispatcher reads the clock itself for batch ages.
    this.pushMetric(
      name,
      encoded,
      step,
      labels,
      ts ?? Date.now(),
      ts === undefined ? undefined : Date.now(),
    );
  }

  /**
   * Stamps and pushes one checked metric point: the one place both metric methods build the
   * event. When every sink is full and would drop it, the point is counted without being built,
   * so a stuck sink costs neither time nor garbage (the caller keeps the summary right).
   */
  private pushMetric(
    name: string,
    value: MetricValue,
    step: number,
    labels: Labels | undefined,
    ts: number,
    now: number | undefined,
  ): void {
    const seq = this.seq++;
    if (!this.dispatcher.hasRoomForData()) {
      this.dispatcher.countDropped('queue_overflow', 1);
      return;
    }
    const event: MetricEvent = {
      id: this.eventId(seq),
      seq,
      ts,
      kind: 'metric',
      name,
      value,
      step,
    };
    if (labels !== undefined) event.labels = labels;
    this.dispatcher.push(event, now);
  }

  /**
   * Records many values of one metric at once: `values[i]` at `steps[i]`, measured at
   * `timestamps[i]`. The events are those of one `logMetric` call per value, at a fraction of the
   * cost per value, for adapters that buffer what they measure. Everything is checked first, so
   * a bad entry records none of the values.
   *
   *   run.logMetricSeries('inference/latency (ms)', latencies, { steps, timestamps });
   */
  logMetricSeries(
    name: string,
    values: ArrayLike<number>,
    options: MetricSeriesOptions = {},
  ): void {
    assertValidName(name, 'metric');
    const count = checkSeriesLength(values, 'values', name, undefined);
    const { steps, timestamps } = options;
    const labels =
      options.labels === undefined ? undefined : checkLabels(options.labels, 'metric', name);
    if (steps !== undefined) checkSeriesLength(steps, 'steps', name, count);
    if (timestamps !== undefined) checkSeriesLength(timestamps, 'timestamps', name, count);
    for (let index = 0; index < count; index++) {
      if (typeof values[index] !== 'number') {
        throwBadSeriesEntry(name, 'values', index, values[index], 'pass numbers');
      }
      if (steps !== undefined && !isStep(steps[index])) {
        throwBadSeriesEntry(name, 'steps', index, steps[index], 'pass integers >= 0');
      }
      if (timestamps !== undefined && !isTimestamp(timestamps[index])) {
        throwBadSeriesEntry(
          name,
          'timestamps',
          index,
          timestamps[index],
          'pass milliseconds since the epoch, such as Date.now()',
        );
      }
    }
    if (!this.acceptsEvents() || count === 0) return;

    let encoded: MetricValue = 0;
    const now = Date.now();
    for (let index = 0; index < count; index++) {
      encoded = encodeMetricValue(name, values[index]);
      this.pushMetric(
        name,
        encoded,
        steps === undefined ? this.currentStep : steps[index]!,
        labels,
        timestamps === undefined ? now : timestamps[index]!,
        now,
      );
    }
    if (labels === undefined) this.latestValues.set(name, encoded);
  }

  /** Records several metrics at one step: `run.logMetrics({ 'train/loss': 0.3, 'train/acc': 0.9 })`. */
  logMetrics(values: Record<string, number>, options?: MetricOptions): void {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new TypeError(
        `livestep: logMetrics got ${describeType(values)}; pass an object such as { "train/loss": 0.3 }`,
      );
    }
    // Validate everything first, so a bad value records none of the batch rather than half of it.
    for (const name of Object.keys(values)) {
      assertValidName(name, 'metric');
      encodeMetricValue(name, values[name]);
    }
    for (const name of Object.keys(values)) this.logMetric(name, values[name]!, options);
  }

  /** Merges (deeply) into the run's params. Values must be JSON-like. */
  logParams(params: Record<string, unknown>): void {
    const converted = toParams(params);
    if (!this.acceptsEvents()) return;
    this.dispatcher.push({ ...this.stamp(), kind: 'params', params: converted });
  }

  /** Records one param: `run.logParam('optimizer/learningRate', 0.01)` nests by `/`. */
  logParam(name: string, value: unknown): void {
    assertValidName(name, 'param');
    const nested: Record<string, unknown> = {};
    const segments = name.split('/');
    let cursor = nested;
    for (const segment of segments.slice(0, -1)) {
      const child: Record<string, unknown> = {};
      cursor[segment] = child;
      cursor = child;
    }
    cursor[segments.at(-1)!] = value;
    this.logParams(nested);
  }

  /** Records a plot as data: line, scatter, bar, confusion, roc, pr, calibration, table or custom. */
  logPlot(name: string, plot: PlotInput): void {
    assertValidName(name, 'plot');
    const { plotKind, rows } = toPlotRows(name, plot);
    if (!this.acceptsEvents()) return;
    const event: PlotEvent = { ...this.stamp(), kind: 'plot', name, plotKind, rows };
    const step = plot.step === undefined ? this.currentStep : checkStep(plot.step, 'plot', name);
    event.step = step;
    if (plot.x !== undefined) event.x = String(plot.x);
    if (plot.y !== undefined) event.y = String(plot.y);
    if (plot.title !== undefined) event.title = String(plot.title);
    if (plot.xLabel !== undefined) event.xLabel = String(plot.xLabel);
    if (plot.yLabel !== undefined) event.yLabel = String(plot.yLabel);
    this.dispatcher.push(event);
  }

  /**
   * Records a PNG, JPEG or GIF image. The name may carry the extension (`samples/digits.png`);
   * without one, it is added from the image type.
   */
  logImage(name: string, bytes: Uint8Array, options: ImageOptions = {}): void {
    assertValidName(name, 'image');
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `livestep: image "${name}" got ${describeType(bytes)}; pass the encoded PNG/JPEG/GIF bytes as a Uint8Array or Buffer`,
      );
    }
    const mime = options.mime ?? detectImageMime(bytes);
    if (mime === undefined) {
      throw new TypeError(
        `livestep: image "${name}" is not PNG, JPEG or GIF data; encode it first (or pass options.mime)`,
      );
    }
    if (!this.acceptsEvents()) return;
    const fileName = /\.(png|jpe?g|gif)$/i.test(name) ? name : name + IMAGE_EXTENSIONS[mime];
    const step =
      options.step === undefined ? this.currentStep : checkStep(options.step, 'image', name);
    const event: ImageEvent = {
      ...this.stamp(),
      kind: 'image',
      name: fileName,
      step,
      mime,
      bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    };
    this.dispatcher.push(event);
  }

  /** Records a note: a checkpoint, a warning, what changed. */
  annotate(text: string, options: AnnotationOptions = {}): void {
    if (typeof text !== 'string') {
      throw new TypeError(
        `livestep: annotate got ${describeType(text)}; pass the text as a string`,
      );
    }
    const level = options.level ?? 'info';
    if (!ANNOTATION_LEVELS.includes(level)) {
      throw new TypeError(
        `livestep: annotation level ${JSON.stringify(level)} is not one of ${ANNOTATION_LEVELS.join(', ')}`,
      );
    }
    if (!this.acceptsEvents()) return;
    const event: AnnotationEvent = { ...this.stamp(), kind: 'annotation', text, level };
    event.step =
      options.step === undefined ? this.currentStep : checkStep(options.step, 'annotation');
    if (options.labels !== undefined) event.labels = checkLabels(options.labels, 'annotation');
    this.dispatcher.push(event);
  }

  /**
   * Records a file the run produced (a model, a dataset) with its size and SHA-256. Reading the
   * file is asynchronous: await it before deleting or moving the file.
   */
  async logArtifact(name: string, path: string, options: ArtifactOptions = {}): Promise<void> {
    assertValidName(name, 'artifact');
    if (typeof path !== 'string' || path === '') {
      throw new TypeError(
        `livestep: artifact "${name}" got path ${describeType(path)}; pass the file's path`,
      );
    }
    const { size, sha256 } = await hashFile(path).catch((error: NodeJS.ErrnoException) => {
      throw new Error(
        `livestep: artifact "${name}": cannot read ${path} (${error.code ?? error.message})`,
      );
    });
    if (!this.acceptsEvents()) return;
    this.dispatcher.push({
      ...this.stamp(),
      kind: 'artifact',
      name,
      type: options.type ?? 'model',
      path,
      size,
      sha256,
    });
  }

  /** Moves to the next step and returns it. Metrics logged without a step use the current one. */
  nextStep(): number {
    this.currentStep += 1;
    return this.currentStep;
  }

  /** Jumps to a step (e.g. when resuming from a checkpoint). */
  setStep(step: number): void {
    this.currentStep = checkStep(step, 'setStep');
  }

  /**
   * Registers a callback that logs what an adapter keeps buffered (e.g. latencies gathered
   * between two native calls and logged together, where a log call costs least). The run calls it
   * at the start of every `flush()`, of `end()` and of an exit, so buffered values are recorded
   * before the run reports or ends. Returns a function that unregisters it.
   */
  beforeFlush(logBuffered: () => void): () => void {
    if (typeof logBuffered !== 'function') {
      throw new TypeError(
        `livestep: beforeFlush() got ${describeType(logBuffered)}; pass a function that logs what it buffered`,
      );
    }
    this.bufferedSources.add(logBuffered);
    return () => {
      this.bufferedSources.delete(logBuffered);
    };
  }

  /** Has every adapter log what it buffered; one that throws is reported, never fatal. */
  private logBuffered(): void {
    for (const logBuffered of this.bufferedSources) {
      try {
        logBuffered();
      } catch (error) {
        this.warn(`livestep: an adapter failed to log what it buffered: ${errorMessage(error)}`);
      }
    }
  }

  /** Hands everything logged so far to the sinks and waits for them; reports what is still pending or failed. */
  flush(options: { timeoutMs?: number } = {}): Promise<FlushReport> {
    if (this.state === 'running') this.logBuffered();
    return this.dispatcher.flush(options.timeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS);
  }

  /** Like `flush()`, but throws a DeliveryError when anything was not delivered. For scripts that must fail then. */
  async flushOrThrow(options: { timeoutMs?: number } = {}): Promise<FlushReport> {
    const report = await this.flush(options);
    if (!report.ok) throw new DeliveryError(report);
    return report;
  }

  /**
   * Ends the run: records `done` with the status (default completed) exactly once, delivers what
   * is pending and closes the sinks. Calling it again returns the first call's result.
   */
  end(status: RunStatus = 'completed', options: EndOptions = {}): Promise<FlushReport> {
    if (this.ending !== undefined) return this.ending;
    if (!RUN_STATUSES.includes(status)) {
      throw new TypeError(
        `livestep: end() got status ${JSON.stringify(status)}; use one of ${RUN_STATUSES.join(', ')}`,
      );
    }
    this.logBuffered();
    this.recordDone(status, options.error);
    const participant = this.exitParticipant;
    this.ending = this.dispatcher.close(options.timeoutMs ?? this.endTimeoutMs).finally(() => {
      if (participant !== undefined) unregisterForExit(participant);
    });
    return this.ending;
  }

  private recordDone(status: RunStatus, error?: unknown): void {
    this.state = status;
    const done: DoneEvent = {
      ...this.stamp(),
      kind: 'done',
      status,
      summary: Object.fromEntries(this.latestValues),
    };
    if (error !== undefined) done.error = serializeError(error);
    this.dispatcher.push(done as RunEvent);
  }

  /** `await using run = startRun()` ends the run (completed) when the block is left. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }
}
