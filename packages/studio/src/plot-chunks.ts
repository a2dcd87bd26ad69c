/**
 * Splits the plots of one data post into requests Studio accepts: at most 200 plots a request,
 * each plot at most 10,000,000 bytes of JSON, the whole body at most 29,000,000 bytes (Studio's
 * body limit is 30 MB). The reference client drops what does not fit; here a chunk takes what
 * fits and the rest stays for the next request. A metric series too large for one plot is split
 * by rows: Studio appends a TSV's rows, so its parts arrive in order over several requests.
 *
 * Bodies are assembled from pre-serialized JSON strings, so sizes are exact and nothing is
 * serialized twice.
 */

export interface PlotLimits {
  /** Plots in one request. */
  maxPlotsPerBody: number;
  /** Bytes of one plot's JSON (`{"data": [...]}` or `{"image": "..."}`). */
  maxPlotBytes: number;
  /** Bytes of one whole request body. */
  maxBodyBytes: number;
}

/** The reference client's limits, which Studio is known to accept. */
export const STUDIO_PLOT_LIMITS: Readonly<PlotLimits> = {
  maxPlotsPerBody: 200,
  maxPlotBytes: 10_000_000,
  maxBodyBytes: 29_000_000,
};

/** The fixed part of a rows plot's JSON: `{"data":[` and `]}`. */
const ROWS_OPENING = '{"data":[';
const ROWS_CLOSING = ']}';
const ROWS_FIXED_BYTES = ROWS_OPENING.length + ROWS_CLOSING.length;

/** A metric series: rows (each a JSON object string) of which the first `available` may be sent. */
export interface RowsSource {
  kind: 'rows';
  path: string;
  rows: readonly string[];
  available: number;
}

/** An image or a data plot sent whole: `value` is its JSON (`{"image":"..."}` or `{"data":[...]}`). */
export interface WholeSource {
  kind: 'whole';
  path: string;
  value: string;
  valueBytes: number;
}

export type PlotSource = RowsSource | WholeSource;

export interface PlotChunk {
  /** The members of the `plots` object, without the braces. */
  json: string;
  /** Bytes of `json`. */
  bytes: number;
  /** Per source, in order: rows taken (rows sources) or 1/0 (whole sources). */
  taken: number[];
  /** How many plots the chunk holds. */
  plots: number;
}

/**
 * Takes, in order, what fits into one request whose body without plots is `baseBytes` long.
 * A source that does not fit is skipped (a later, smaller one may still fit) and stays for the
 * next request.
 */
export function takePlotChunk(
  sources: readonly PlotSource[],
  baseBytes: number,
  limits: PlotLimits,
): PlotChunk {
  const parts: string[] = [];
  const taken: number[] = [];
  let total = baseBytes;
  let bytes = 0;
  for (const source of sources) {
    if (parts.length >= limits.maxPlotsPerBody) {
      taken.push(0);
      continue;
    }
    const separator = parts.length > 0 ? 1 : 0;
    const key = JSON.stringify(source.path);
    const keyBytes = Buffer.byteLength(key) + 1; // the key and its colon
    if (source.kind === 'whole') {
      const size = separator + keyBytes + source.valueBytes;
      if (source.valueBytes > limits.maxPlotBytes || total + size > limits.maxBodyBytes) {
        taken.push(0);
        continue;
      }
      parts.push(`${key}:${source.value}`);
      taken.push(1);
      total += size;
      bytes += size;
      continue;
    }
    const fixed = separator + keyBytes + ROWS_FIXED_BYTES;
    let valueBytes = ROWS_FIXED_BYTES;
    let count = 0;
    const limit = Math.min(source.available, source.rows.length);
    while (count < limit) {
      const rowBytes = Buffer.byteLength(source.rows[count]!) + (count > 0 ? 1 : 0);
      if (valueBytes + rowBytes > limits.maxPlotBytes) break;
      if (total + fixed - ROWS_FIXED_BYTES + valueBytes + rowBytes > limits.maxBodyBytes) break;
      valueBytes += rowBytes;
      count++;
    }
    if (count === 0) {
      taken.push(0);
      continue;
    }
    const rows = count === source.rows.length ? source.rows : source.rows.slice(0, count);
    parts.push(`${key}:${ROWS_OPENING}${rows.join(',')}${ROWS_CLOSING}`);
    taken.push(count);
    const size = fixed - ROWS_FIXED_BYTES + valueBytes;
    total += size;
    bytes += size;
  }
  return { json: parts.join(','), bytes, taken, plots: parts.length };
}
