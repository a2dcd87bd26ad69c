/**
 * Metric columns: many metric points of one run in one block (see MetricColumnsSchema), the
 * compact form the HTTP sink sends to a server that announces the `metric-columns` capability.
 * Encoding, the checks JSON Schema cannot express (lengths, indexes, the values the deltas sum
 * to), and decoding back to protocol v1 metric events live here, so every side agrees.
 */
import {
  type Labels,
  MAX_PREFIXED_SEQ,
  METRIC_COLUMNS_KIND,
  type MetricColumns,
  type MetricEvent,
  type MetricValue,
  type RunEvent,
} from './events.js';
import { explainBadName } from './names.js';

/** What a server announces, in its acknowledgement's `capabilities`, when it takes metric columns. */
export const METRIC_COLUMNS_CAPABILITY = 'metric-columns';

/** Length of the id prefix: `8d0c1f2a-3b4c-8d5e-9f60-`. */
const ID_PREFIX_LENGTH = 24;
const ID_PREFIX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-$/;
const SEQ_HEX_DIGITS = 12;
/** The columns every point has an entry in. */
const POINT_COLUMNS = ['nameIndex', 'seqDeltas', 'stepDeltas', 'tsDeltas', 'values'] as const;

/** `00` … `ff`, as in run/event-id.ts: the last two hex digits of a seq, looked up. */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** The id `idPrefix` gives the point with this seq. */
export function prefixedEventId(idPrefix: string, seq: number): string {
  return idPrefix + seq.toString(16).padStart(SEQ_HEX_DIGITS, '0');
}

/**
 * The metric events in columns, or undefined when columns would not carry them exactly (a
 * timestamp whose delta does not sum back to it, which finite epoch times never hit in
 * practice): the caller then sends them as objects. Ids that follow core's pattern (a run-wide
 * prefix, then the seq in hex) become one `idPrefix`; any others are listed in `ids`.
 */
export function encodeMetricColumns(events: readonly MetricEvent[]): MetricColumns | undefined {
  const names: string[] = [];
  const labels: Array<Labels | null> = [];
  let anyLabels = false;
  const nameIndexes = new Map<string, number>();
  const count = events.length;
  const nameIndex = new Array<number>(count);
  const seqDeltas = new Array<number>(count);
  const stepDeltas = new Array<number>(count);
  const tsDeltas = new Array<number>(count);
  const values = new Array<MetricValue>(count);
  const first = events[0];
  let idPrefix =
    first !== undefined && ID_PREFIX.test(first.id.slice(0, ID_PREFIX_LENGTH))
      ? first.id.slice(0, ID_PREFIX_LENGTH)
      : undefined;
  let block = -1;
  let blockPrefix = '';
  let previousSeq = 0;
  let previousStep = 0;
  let previousTs = 0;
  for (let index = 0; index < count; index++) {
    const event = events[index]!;
    const key = event.labels === undefined ? event.name : labelledKey(event.name, event.labels);
    let position = nameIndexes.get(key);
    if (position === undefined) {
      position = names.length;
      nameIndexes.set(key, position);
      names.push(event.name);
      labels.push(event.labels ?? null);
      if (event.labels !== undefined) anyLabels = true;
    }
    nameIndex[index] = position;
    const { seq, step, ts } = event;
    seqDeltas[index] = seq - previousSeq;
    stepDeltas[index] = step - previousStep;
    const tsDelta = ts - previousTs;
    // Floating-point sums need not give ts back; the receiver must get exactly what was logged.
    if (previousTs + tsDelta !== ts) return undefined;
    tsDeltas[index] = tsDelta;
    previousSeq = seq;
    previousStep = step;
    previousTs = ts;
    values[index] = event.value;
    if (idPrefix !== undefined) {
      // As the Run makes ids: the hex of seq formatted once per 256 seqs.
      const high = Math.floor(seq / 256);
      if (high !== block) {
        block = high;
        blockPrefix = idPrefix + high.toString(16).padStart(SEQ_HEX_DIGITS - 2, '0');
      }
      if (
        !(seq >= 0 && seq <= MAX_PREFIXED_SEQ) ||
        event.id !== blockPrefix + BYTE_HEX[seq - high * 256]
      ) {
        idPrefix = undefined;
      }
    }
  }
  // Property order is the wire order: the tables first, then the columns.
  const columns: MetricColumns = {
    kind: METRIC_COLUMNS_KIND,
    names,
    ...(anyLabels ? { labels } : {}),
    ...(idPrefix !== undefined ? { idPrefix } : { ids: events.map((event) => event.id) }),
    nameIndex,
    seqDeltas,
    stepDeltas,
    tsDeltas,
    values,
  };
  return columns;
}

function labelledKey(name: string, labels: Labels): string {
  return `${name}\u0000${JSON.stringify(labels)}`;
}

/** How many points a block holds. */
export function metricColumnsLength(columns: MetricColumns): number {
  return columns.values.length;
}

export interface ColumnIssue {
  /** Inside the block, in JavaScript notation: `seqDeltas[17]`. */
  path: string;
  message: string;
}

/**
 * What is wrong with a block that matches MetricColumnsSchema, beyond what a schema can say:
 * columns of different lengths, an index past `names`, a name that could leave a folder, deltas
 * that sum to a negative or too large seq or step. Empty when the block is valid. Stops at
 * `limit` issues.
 */
export function checkMetricColumns(columns: MetricColumns, limit = 10): ColumnIssue[] {
  const issues: ColumnIssue[] = [];
  const add = (path: string, message: string) => {
    if (issues.length < limit) issues.push({ path, message });
  };
  const hasPrefix = columns.idPrefix !== undefined;
  const hasIds = columns.ids !== undefined;
  if (hasPrefix === hasIds) {
    add(
      hasPrefix ? 'ids' : 'idPrefix',
      hasPrefix
        ? 'give idPrefix or ids, not both'
        : 'missing; give idPrefix (ids are idPrefix + seq in 12 hex digits) or ids (one per point)',
    );
  }
  const count = columns.values.length;
  for (const column of POINT_COLUMNS) {
    const length = columns[column].length;
    if (length !== count) {
      add(column, `has ${length} entries but values has ${count}; every column has one per point`);
    }
  }
  if (hasIds && columns.ids!.length !== count) {
    add('ids', `has ${columns.ids!.length} entries but values has ${count}; one id per point`);
  }
  if (columns.labels !== undefined && columns.labels.length !== columns.names.length) {
    add(
      'labels',
      `has ${columns.labels.length} entries but names has ${columns.names.length}; one per name (null for none)`,
    );
  }
  columns.names.forEach((name, index) => {
    const problem = explainBadName(name);
    if (problem !== undefined) add(`names[${index}]`, problem);
  });
  if (issues.length > 0) return issues;
  const nameCount = columns.names.length;
  const maxSeq = hasPrefix ? MAX_PREFIXED_SEQ : Number.MAX_SAFE_INTEGER;
  const { nameIndex, seqDeltas, stepDeltas, tsDeltas } = columns;
  let seq = 0;
  let step = 0;
  let ts = 0;
  for (let index = 0; index < count; index++) {
    if (nameIndex[index]! >= nameCount) {
      add(
        `nameIndex[${index}]`,
        `is ${nameIndex[index]}, past the end of names (${nameCount} entries)`,
      );
    }
    seq += seqDeltas[index]!;
    step += stepDeltas[index]!;
    ts += tsDeltas[index]!;
    if (!(seq >= 0 && seq <= maxSeq)) {
      add(
        `seqDeltas[${index}]`,
        `sums to seq ${seq}; a seq is an integer from 0 to ${maxSeq}${hasPrefix ? ' (12 hex digits of an id made from idPrefix)' : ''}`,
      );
    }
    if (!(step >= 0 && step <= Number.MAX_SAFE_INTEGER)) {
      add(
        `stepDeltas[${index}]`,
        `sums to step ${step}; a step is an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
      );
    }
    if (!(ts >= 0 && ts - ts === 0)) {
      add(`tsDeltas[${index}]`, `sums to ts ${ts}; a ts is epoch milliseconds, at least 0`);
    }
    if (issues.length >= limit) break;
  }
  return issues;
}

/** The block's points as protocol v1 metric events (for tools and for servers that store objects). */
export function expandMetricColumns(columns: MetricColumns): MetricEvent[] {
  const events: MetricEvent[] = [];
  let seq = 0;
  let step = 0;
  let ts = 0;
  for (let index = 0; index < columns.values.length; index++) {
    seq += columns.seqDeltas[index]!;
    step += columns.stepDeltas[index]!;
    ts += columns.tsDeltas[index]!;
    const position = columns.nameIndex[index]!;
    const event: MetricEvent = {
      id: columns.ids?.[index] ?? prefixedEventId(columns.idPrefix!, seq),
      seq,
      ts,
      kind: 'metric',
      name: columns.names[position]!,
      value: columns.values[index]!,
      step,
    };
    const labels = columns.labels?.[position];
    if (labels !== undefined && labels !== null) event.labels = labels;
    events.push(event);
  }
  return events;
}

/**
 * Consecutive metric events below this many go as objects: a block's tables cost more than they
 * save on a handful of points.
 */
const MIN_COLUMN_POINTS = 8;

/**
 * The events as they go to a server that takes metric columns: each run of consecutive metric
 * events (MIN_COLUMN_POINTS or more) as one block, the rest as objects. Undefined when nothing
 * would go as columns.
 */
export function withMetricColumns(
  events: readonly RunEvent[],
): Array<RunEvent | MetricColumns> | undefined {
  let wire: Array<RunEvent | MetricColumns> | undefined;
  let start = 0;
  for (let index = 0; index <= events.length; index++) {
    if (index < events.length && events[index]!.kind === 'metric') continue;
    if (index - start >= MIN_COLUMN_POINTS) {
      const run = events.slice(start, index) as MetricEvent[];
      const columns = encodeMetricColumns(run);
      wire ??= events.slice(0, start);
      if (columns === undefined) wire.push(...run);
      else wire.push(columns);
    } else if (wire !== undefined) {
      for (let from = start; from < index; from++) wire.push(events[from]!);
    }
    if (index < events.length) wire?.push(events[index]!);
    start = index + 1;
  }
  return wire;
}
