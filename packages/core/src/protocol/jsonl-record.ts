/**
 * The JSONL record: a run as one JSON object per line, first a header `{"protocol":1,"run":{...}}`,
 * then every event as a server receives it. The JSONL sink writes it, the HTTP sink's spool keeps
 * undelivered batches in it (runs of metric points as one line of metric columns, a block as
 * the protocol defines it), and `livestep sync` replays it. Metric events (the bulk of any run)
 * are written by string concatenation, not JSON.stringify.
 */
import type { MetricColumns, MetricEvent, RunEvent, RunIdentity } from './events.js';
import { METRIC_COLUMNS_KIND, PROTOCOL_VERSION } from './events.js';
import { expandMetricColumns } from './metric-columns.js';
import { metricColumnsIssues } from './validate-batch.js';

/** Names repeat on every step: their JSON form is computed once. Bounded like the name cache. */
const QUOTED_NAMES_CACHE_SIZE = 10_000;
const quotedNames = new Map<string, string>();

function quoted(name: string): string {
  let text = quotedNames.get(name);
  if (text === undefined) {
    text = JSON.stringify(name);
    if (quotedNames.size >= QUOTED_NAMES_CACHE_SIZE) quotedNames.clear();
    quotedNames.set(name, text);
  }
  return text;
}

function serializeMetric(event: MetricEvent): string {
  const value = typeof event.value === 'number' ? event.value : `"${event.value}"`;
  const labels = event.labels === undefined ? '' : `,"labels":${JSON.stringify(event.labels)}`;
  return `{"id":"${event.id}","seq":${event.seq},"ts":${event.ts},"kind":"metric","name":${quoted(event.name)},"value":${value},"step":${event.step}${labels}}\n`;
}

/** One line per event, the same JSON a server receives. */
export function serializeEventLine(event: RunEvent): string {
  return event.kind === 'metric' ? serializeMetric(event) : `${JSON.stringify(event)}\n`;
}

export function serializeRunHeader(run: RunIdentity): string {
  return `${JSON.stringify({ protocol: PROTOCOL_VERSION, run })}\n`;
}

export interface ParseJsonlOptions {
  /**
   * Called when the last line is cut off: the writer was killed in the middle of an append (an
   * out-of-memory kill, a power cut). That line is skipped, and everything before it is kept.
   */
  onCutOffLine?: (lineNumber: number) => void;
}

/**
 * Reads a JSONL record back into the run it describes and its events (for replay and tests). A
 * cut-off last line (not JSON, no newline after it) is skipped; any other line that is not JSON
 * is an error naming it.
 */
export function parseJsonl(
  text: string,
  options: ParseJsonlOptions = {},
): { run: RunIdentity; events: RunEvent[] }[] {
  const runs: { run: RunIdentity; events: RunEvent[] }[] = [];
  let current: { run: RunIdentity; events: RunEvent[] } | undefined;
  const lines = text.split('\n');
  // Text after the last newline is a line whose append never finished (or a file without a
  // final newline, which parses fine and is kept).
  const unfinishedLine = lines.length - 1;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      if (index === unfinishedLine) {
        options.onCutOffLine?.(index + 1);
        return;
      }
      throw new SyntaxError(`livestep: line ${index + 1} of the JSONL record is not JSON`);
    }
    if ('protocol' in record && 'run' in record && !('kind' in record)) {
      current = { run: record.run as RunIdentity, events: [] };
      runs.push(current);
      return;
    }
    if (current === undefined) {
      throw new SyntaxError(`livestep: line ${index + 1} is an event before any run header`);
    }
    if (record.kind === METRIC_COLUMNS_KIND) {
      // A spool keeps runs of metric points as one line of columns: read back as the events.
      const issue = metricColumnsIssues(record)[0];
      if (issue !== undefined) {
        throw new SyntaxError(
          `livestep: line ${index + 1} of the JSONL record is not valid metric columns: ${issue.path}: ${issue.message}`,
        );
      }
      // A loop, not a spread: a block of 150,000 points would overflow the call's arguments.
      for (const event of expandMetricColumns(record as unknown as MetricColumns)) {
        current.events.push(event);
      }
      return;
    }
    current.events.push(record as unknown as RunEvent);
  });
  return runs;
}
