import { PLOT_KINDS, type PlotEvent, type PlotKind } from '../protocol/events.js';
import { describeType } from '../protocol/names.js';

export type PlotCell = number | string | boolean | null;
export type PlotRow = Record<string, PlotCell>;

/** A plot as data. Rows are plain objects; which columns each kind needs is in REQUIRED_COLUMNS. */
export interface PlotInput {
  kind: PlotKind;
  rows: PlotRow[];
  step?: number;
  /** Column on the x axis (line, scatter, bar, custom). */
  x?: string;
  /** Column on the y axis. */
  y?: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

/** Columns a plot kind must have, so every sink can draw it (DVC's templates read these names). */
export const REQUIRED_COLUMNS: Record<PlotKind, readonly string[]> = {
  line: [],
  scatter: [],
  bar: [],
  confusion: ['actual', 'predicted'],
  roc: ['fpr', 'tpr'],
  pr: ['precision', 'recall'],
  calibration: ['prob_true', 'prob_pred'],
  table: [],
  custom: [],
};

/** Validates a plot and copies its rows into JSON-safe data (non-finite numbers become strings). */
export function toPlotRows(
  name: string,
  plot: PlotInput,
): { plotKind: PlotKind; rows: PlotEvent['rows'] } {
  if (typeof plot !== 'object' || plot === null) {
    throw new TypeError(`livestep: plot "${name}" got ${describeType(plot)}; pass { kind, rows }`);
  }
  if (!PLOT_KINDS.includes(plot.kind)) {
    throw new TypeError(
      `livestep: plot "${name}" has kind ${JSON.stringify(plot.kind)}; use one of ${PLOT_KINDS.join(', ')}`,
    );
  }
  if (!Array.isArray(plot.rows)) {
    throw new TypeError(
      `livestep: plot "${name}" rows must be an array of objects, got ${describeType(plot.rows)}`,
    );
  }
  const required = REQUIRED_COLUMNS[plot.kind];
  const rows = plot.rows.map((row, index) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new TypeError(
        `livestep: plot "${name}" row ${index} is ${describeType(row)}; rows are objects`,
      );
    }
    for (const column of required) {
      if (!(column in row)) {
        throw new TypeError(
          `livestep: plot "${name}" (${plot.kind}) row ${index} has no "${column}"; ${plot.kind} rows need ${required.join(', ')}`,
        );
      }
    }
    const copy: PlotRow = {};
    for (const [column, cell] of Object.entries(row))
      copy[column] = toCell(name, index, column, cell);
    return copy;
  });
  return { plotKind: plot.kind, rows };
}

function toCell(name: string, index: number, column: string, cell: unknown): PlotCell {
  if (typeof cell === 'number') {
    if (Number.isFinite(cell)) return cell;
    return Number.isNaN(cell) ? 'nan' : cell > 0 ? 'inf' : '-inf';
  }
  if (typeof cell === 'string' || typeof cell === 'boolean' || cell === null) return cell;
  throw new TypeError(
    `livestep: plot "${name}" row ${index} column "${column}" is ${describeType(cell)}; cells are numbers, strings, booleans or null`,
  );
}
