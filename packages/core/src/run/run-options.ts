/** What a run is started, logged and ended with: the options and the defaults they fall back to. */
import type { Sink } from '../pipeline/sink.js';
import type { AnnotationLevel, ImageMimeType, Labels, RunStatus } from '../protocol/events.js';

/** How long `flush()` waits for the sinks by default: a slow network, not a dead one. */
export const DEFAULT_FLUSH_TIMEOUT_MS = 30_000;
/**
 * How long `end()` waits for the sinks by default. Short, because it holds the end of a script:
 * file sinks have written everything by then, a server that answers takes the last batches well
 * within it, and what a slow server has not taken by then stays in the HTTP sink's spool for
 * `livestep sync` (a server that is down or failing is not waited for: see the HTTP sink).
 */
export const DEFAULT_END_TIMEOUT_MS = 5_000;
/** How long the exit hooks wait for delivery before letting the process go. */
export const DEFAULT_EXIT_TIMEOUT_MS = 5_000;

export interface StartRunOptions {
  /** Groups runs to compare. Default: LIVESTEP_EXPERIMENT, else the current folder's name. */
  experiment?: string;
  /** This run's name. Default: LIVESTEP_RUN_NAME, else a generated `adjective-noun`. */
  name?: string;
  /** Params recorded at the start (more with `logParams`). */
  params?: Record<string, unknown>;
  tags?: string[];
  /** A note about the run, e.g. what changed. */
  message?: string;
  /**
   * Where events go. Default: the directory sink in LIVESTEP_DIR (or `./livestep`), plus the
   * sinks the environment enables. Passing sinks replaces the defaults.
   */
  sinks?: Sink[];
  /** Folder of the default directory sink, overriding LIVESTEP_DIR. */
  directory?: string;
  /**
   * The dvc.yaml the default directory sink keeps up to date: a path, or false for none. Default:
   * `dvc.yaml` beside the run folder (DVCLive's one-run-per-repository layout); runs kept side by
   * side in one folder each give theirs, e.g. `join(directory, 'dvc.yaml')`.
   */
  dvcYaml?: string | false;
  /**
   * Continue the run recorded in the folder, as DVCLive's resume does: keep its files, append,
   * and start at its saved step + 1 (also LIVESTEP_RESUME=1). Default: start clean.
   */
  resume?: boolean;
  /** Record nothing (also LIVESTEP_DISABLED=1). The API still validates and works. */
  disabled?: boolean;
  /** Seal a batch this long after its first event (default 250 ms). */
  flushIntervalMs?: number;
  /** Seal a batch at this many events (default 1000). */
  maxBatchEvents?: number;
  /** Events a sink may have waiting before data points are dropped and counted (default 250,000). */
  maxQueuedEvents?: number;
  /** End the run when the process exits, is interrupted or crashes (default true). */
  exitHooks?: boolean;
  /** How long exit hooks wait for delivery (default 5 s). */
  exitTimeoutMs?: number;
  /** Record the git commit, branch, remote and dirty state (default true). */
  collectGit?: boolean;
  /** Record host, OS, CPUs and memory (default true). */
  collectMachine?: boolean;
  /** Where warnings go (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** The environment to read LIVESTEP_* from (default process.env). */
  environment?: NodeJS.ProcessEnv;
}

export interface MetricOptions {
  /** The step this value belongs to (default: the run's current step). */
  step?: number;
  /** Tells series of one metric apart, e.g. `{ class: 'setosa' }`. */
  labels?: Labels;
  /**
   * When the value was measured, in milliseconds since the epoch (default: now). For values an
   * adapter buffered before logging them, or a record replayed from elsewhere.
   */
  timestamp?: number;
}

export interface MetricSeriesOptions {
  /** The step of each value, same length as the values (default: the run's current step). */
  steps?: ArrayLike<number>;
  /** When each value was measured, epoch milliseconds, same length as the values (default: now). */
  timestamps?: ArrayLike<number>;
  /** Labels shared by every value. */
  labels?: Labels;
}

export interface ImageOptions {
  step?: number;
  /** Detected from the bytes when omitted (PNG, JPEG, GIF). */
  mime?: ImageMimeType;
}

export interface AnnotationOptions {
  level?: AnnotationLevel;
  step?: number;
  labels?: Labels;
}

export interface ArtifactOptions {
  /** What the file is, e.g. `model`, `dataset` (default `model`). */
  type?: string;
}

export interface EndOptions {
  /** The error that ended a failed run; recorded with its message and stack. */
  error?: unknown;
  /**
   * How long to wait for delivery (default `LIVESTEP_END_TIMEOUT_MS` from the environment, else
   * `DEFAULT_END_TIMEOUT_MS`, 5 s).
   */
  timeoutMs?: number;
}

export type RunState = 'running' | RunStatus;
