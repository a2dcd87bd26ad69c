/**
 * The store interface: everything the server keeps (runs, params, metric points with the
 * summaries kept at ingest, plots, images, annotations, artifact metadata and the log of event
 * ids that makes ingest idempotent) behind one contract. The embedded SQLite store implements it
 * today; a PostgreSQL store can follow it method for method: every call is asynchronous, takes
 * plain data and returns plain data, and nothing outside `storage/` sees SQL.
 */
import type { MachineInfo, MetricColumns, RunEvent, RunIdentity } from '@livestep/core/protocol';

/** What a run is, as the server shows it. `stale` is computed: running, but silent for too long. */
export type RunState = 'running' | 'stale' | 'completed' | 'failed' | 'interrupted';

/** Where a run's events came from. */
export type RunSource = 'protocol' | 'studio';

/** A metric value as stored and returned: a number, with NaN kept (never turned into null). */
export type StoredNumber = number;

export interface IngestBatch {
  run: RunIdentity;
  events: RunEvent[];
  source: RunSource;
  /** Replaces the run's summary (a Studio metrics.json), beside the one `done` carries. */
  summary?: Record<string, unknown>;
  /** The sender has no sequence numbers (Studio): the store numbers new events after the run's last. */
  assignSequence?: boolean;
  /**
   * Metric points in columns (protocol v1's `metrics` blocks, validated), stored beside `events`
   * without an object per point. Each point keeps its own event id, so it is stored once whether
   * it came in columns or as an object; points do not depend on their order among the events.
   */
  metricColumns?: MetricColumns[];
}

/** What one committed batch changed, for the live stream. */
export interface CommittedBatch {
  run: RunIdentity;
  /** Events newly stored (duplicates excluded). */
  stored: number;
  /** Events already stored before (a retry or a replay). */
  duplicates: number;
  /** Metric points newly stored, by series name: [step, value, ts] each. */
  points: Record<string, Array<[number, StoredNumber, number]>>;
  /** Newly stored events that are not metric points, counted by kind. */
  otherKinds: Partial<Record<RunEvent['kind'], number>>;
  /** The run's state after the commit. */
  state: RunState;
  /** Whether the run's state changed (created, ended, back from stale). */
  stateChanged: boolean;
  /**
   * What the batch's data holds in memory until the live stream writes it, estimated by the
   * store (the hub's replay ring counts this; without it, a figure per event).
   */
  memoryBytes?: number;
}

export interface SeriesSummary {
  /** The series name: the metric name plus `key=value` segments for its labels. */
  name: string;
  metric: string;
  labels?: Record<string, string>;
  count: number;
  nanCount: number;
  /** Over the non-NaN values; undefined when every value is NaN. */
  min?: number;
  max?: number;
  firstStep: number;
  lastStep: number;
  /** The value at the highest step (Dioptra's "latest"); ties go to the one logged last. */
  latest: { step: number; value: StoredNumber; ts: number };
  /** The value logged last, whatever its step. */
  lastLogged: { step: number; value: StoredNumber; ts: number };
}

/** A row of a runs table: who the run is, and the latest values of the metrics asked for. */
export interface RunLatestValues {
  id: string;
  experiment: string;
  name: string;
  state: RunState;
  startedAt?: number;
  /**
   * One entry per name in the query's `metrics`, in that order: [highest step, the value at it,
   * the value logged last], or null when the run has no such series.
   */
  latest: Array<[number, StoredNumber, StoredNumber] | null>;
}

/**
 * One row of a runs table as `forEachLatestValues` hands it over: the same object refilled for
 * every run (read it during the call, copy what you keep), so a table of 10,000 runs makes no
 * object per run; collecting 10,000 of them was a third of a runs table's time, in GC.
 */
export interface LatestValuesRow {
  id: string;
  experiment: string;
  name: string;
  state: RunState;
  startedAt: number | undefined;
  /**
   * Three entries per name in the query's `metrics`, in that order: the highest step (-1 when the
   * run has no such series), the value at it, the value logged last (NaN kept).
   */
  latest: Float64Array;
}

export interface RunRecord {
  id: string;
  experiment: string;
  name: string;
  source: RunSource;
  state: RunState;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  lastEventAt: number;
  message?: string;
  tags: string[];
  git?: Record<string, unknown>;
  machine?: MachineInfo;
  params: Record<string, unknown>;
  /** The summary the run sent with `done` (or a Studio run's metrics.json). */
  summary?: Record<string, unknown>;
  error?: { name?: string; message: string; stack?: string };
  /** Set when the server, not the run, decided it was interrupted (it went silent). */
  interruptedByServer?: boolean;
}

/** A run with the summaries of the metrics a list asked for. */
export interface RunListItem extends RunRecord {
  metrics?: Record<string, SeriesSummary>;
}

/** `params.lr > 0.01`, `eval/acc >= 0.9`, `max(eval/acc) >= 0.9`. */
export interface RunCondition {
  field: SortField;
  operator: '=' | '!=' | '<' | '<=' | '>' | '>=';
  value: string | number | boolean;
}

export type MetricAggregate = 'latest' | 'last' | 'min' | 'max' | 'count';

export type SortField =
  | { type: 'column'; column: 'created' | 'started' | 'ended' | 'name' | 'experiment' | 'status' }
  | { type: 'param'; path: string[] }
  | { type: 'metric'; name: string; aggregate: MetricAggregate };

export interface RunListQuery {
  experiment?: string;
  states?: RunState[];
  tags?: string[];
  text?: string;
  conditions?: RunCondition[];
  sort?: { field: SortField; descending: boolean };
  limit: number;
  cursor?: string;
  /** Series whose summaries to include with each run. */
  metrics?: string[];
  /** Ids to restrict to (compare). */
  ids?: string[];
}

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; absent on the last page. */
  nextCursor?: string;
}

export interface MetricPoint {
  step: number;
  value: StoredNumber;
  ts: number;
}

export type SeriesAxis = 'step' | 'time' | 'relative';

export interface SeriesQuery {
  points: number;
  x: SeriesAxis;
  /** Inclusive range on the axis (step, epoch ms, or ms since the run started). */
  from?: number;
  to?: number;
}

/** One bucket of a downsampled series: every point in it is counted, its extremes kept. */
export interface SeriesBucket {
  /** Where to draw it: the step (or time) of its last point. */
  x: number;
  firstStep: number;
  lastStep: number;
  firstTs: number;
  lastTs: number;
  count: number;
  nanCount: number;
  /** undefined when every value in the bucket is NaN. */
  min?: number;
  max?: number;
  /** The value of the point with the highest step (then the one logged last). */
  last: StoredNumber;
}

export interface DownsampledSeries {
  name: string;
  x: SeriesAxis;
  /** Width of a bucket on the axis. */
  bucketWidth: number;
  /** The summary level the buckets were built from (0: raw points). */
  blockSize: number;
  buckets: SeriesBucket[];
}

export interface PlotRecord {
  name: string;
  plotKind: string;
  step?: number;
  ts: number;
  rows: Array<Record<string, unknown>>;
  x?: string;
  y?: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

export interface ImageRecord {
  name: string;
  step: number;
  ts: number;
  mime: string;
  size: number;
  uri?: string;
}

export interface AnnotationRecord {
  ts: number;
  step?: number;
  level: string;
  text: string;
  labels?: Record<string, string>;
}

export interface ArtifactRecord {
  ts: number;
  name: string;
  type: string;
  path: string;
  size: number;
  sha256: string;
}

export interface StateChange {
  run: RunIdentity;
  state: RunState;
}

export interface LivenessPolicy {
  /** A running run silent this long is shown as stale. */
  staleAfterMs: number;
  /** A run silent this long is marked interrupted (it comes back to running if it sends again). */
  interruptedAfterMs: number;
}

export interface RunStore {
  /** Stores the batches in one transaction; resolves only after the commit. */
  ingest(batches: IngestBatch[]): Promise<CommittedBatch[]>;
  listRuns(query: RunListQuery): Promise<Page<RunListItem>>;
  /** The runs a list query selects, each with only the latest values of `query.metrics`. */
  listLatestValues(query: RunListQuery): Promise<Page<RunLatestValues>>;
  /**
   * The same, one run at a time: `visit` gets each row in order (one object, refilled; see
   * LatestValuesRow); resolves with the cursor of the next page, if any.
   */
  forEachLatestValues(
    query: RunListQuery,
    visit: (row: LatestValuesRow) => void,
  ): Promise<{ nextCursor?: string }>;
  getRun(id: string): Promise<RunRecord | undefined>;
  listSeries(runId: string): Promise<SeriesSummary[]>;
  history(
    runId: string,
    name: string,
    options: { cursor?: string; limit: number },
  ): Promise<Page<MetricPoint>>;
  downsample(runId: string, name: string, query: SeriesQuery): Promise<DownsampledSeries>;
  listPlots(runId: string, name?: string): Promise<PlotRecord[]>;
  listImages(runId: string, name?: string): Promise<ImageRecord[]>;
  readImage(
    runId: string,
    name: string,
    step?: number,
  ): Promise<{ record: ImageRecord; bytes?: Buffer } | undefined>;
  listAnnotations(runId: string): Promise<AnnotationRecord[]>;
  listArtifacts(runId: string): Promise<ArtifactRecord[]>;
  /** Marks silent runs stale (shown) and interrupted (stored); returns what changed. */
  sweepSilentRuns(now: number): Promise<StateChange[]>;
  /** Counts of what is stored, for tests and health. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Thrown by a store for a request that names something that does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** Thrown by a store for a query the caller got wrong (a bad cursor, a bad range). */
export class BadQueryError extends Error {
  override readonly name = 'BadQueryError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
