/**
 * The runs table: every run the server's filter selects (up to 10,000, one request), with only
 * the rows in view in the DOM (fixed-height rows, positioned in a tall spacer), so scrolling
 * 10,000 runs costs what scrolling 30 does. Status, durations and metric columns follow the live
 * stream; sorting and filtering are the server's (`sort`, `q`, `filter`).
 */
import { wireNumber } from './api-client.js';
import type { BatchFrame, RunItem, RunState } from './api-types.js';
import { h } from './dom.js';
import { groupRuns, isGroupHeader, type TableRow } from './run-groups.js';
import {
  buildColumns,
  type Column,
  type RunsTableOptions,
  summaries,
} from './runs-table-columns.js';

export { type RunsTableOptions, statusBadge } from './runs-table-columns.js';

export const ROW_HEIGHT = 30;
/** Rows rendered above and below the visible ones, so a fast scroll shows no blank rows. */
const OVERSCAN = 8;

export class RunsTable {
  readonly element: HTMLElement;
  private readonly header: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private runs: RunItem[] = [];
  private rows: TableRow[] = [];
  /** The row the keyboard is on (an index into rows), -1 before the first key. */
  private cursor = -1;
  private readonly index = new Map<string, number>();
  private columns: Column[] = [];
  private frame = 0;

  constructor(private options: RunsTableOptions) {
    this.header = h('div', { class: 'runs-row runs-header', role: 'row' });
    this.spacer = h('div', { class: 'runs-spacer' });
    this.viewport = h(
      'div',
      { class: 'runs-viewport', role: 'rowgroup', tabindex: 0 },
      this.spacer,
    );
    this.viewport.addEventListener('scroll', () => this.schedule());
    this.viewport.addEventListener('keydown', (event) => this.onKey(event));
    this.element = h('div', { class: 'runs-table', role: 'grid' }, this.header, this.viewport);
    this.setOptions(options);
    // Durations of running runs tick.
    setInterval(() => {
      if (this.runs.some((run) => run.state === 'running' || run.state === 'stale'))
        this.schedule();
    }, 1000);
  }

  setOptions(options: RunsTableOptions): void {
    const regroup = this.options.group !== options.group;
    this.options = options;
    if (regroup) this.layRows();
    this.columns = buildColumns(this.options);
    const template = this.columns.map((column) => column.width).join(' ');
    this.element.style.setProperty('--columns', template);
    this.header.replaceChildren(
      ...this.columns.map((column) => {
        if (column.sort === undefined) return h('span', { role: 'columnheader' }, column.label);
        const current = options.sort.replace(/^-/, '') === column.sort;
        const descending = options.sort.startsWith('-');
        const arrow = current ? (descending ? ' ↓' : ' ↑') : '';
        return h(
          'button',
          {
            type: 'button',
            role: 'columnheader',
            class: 'sort',
            'data-sort': column.sort,
            'aria-sort': current ? (descending ? 'descending' : 'ascending') : 'none',
            onclick: () =>
              options.onSort(current && !descending ? `-${column.sort}` : column.sort!),
          },
          column.label + arrow,
        );
      }),
    );
    this.schedule();
  }

  setRuns(runs: RunItem[]): void {
    this.runs = runs;
    this.index.clear();
    runs.forEach((run, position) => {
      this.index.set(run.id, position);
    });
    this.layRows();
  }

  private layRows(): void {
    const { runs } = this;
    this.rows = groupRuns(runs, this.options.group);
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    // A few runs take a few rows; many scroll inside at most 40% of the window.
    this.viewport.style.height = `min(40vh, ${Math.max(3, this.rows.length + 1) * ROW_HEIGHT}px)`;
    this.element.dataset.rows = String(runs.length);
    this.schedule();
  }

  get shownRuns(): readonly RunItem[] {
    return this.runs;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** A live frame: the run's state, and its metric columns' latest, min and max. */
  applyFrame(frame: BatchFrame): void {
    const position = this.index.get(frame.run.id);
    if (position === undefined) return;
    const run = this.runs[position]!;
    run.state = frame.state;
    run.lastEventAt = Date.now();
    if (frame.state !== 'running' && frame.state !== 'stale' && run.endedAt === undefined) {
      run.endedAt = Date.now();
    }
    const known = summaries(run);
    for (const name of this.options.metrics) {
      const points = frame.points[name];
      if (!points || points.length === 0) continue;
      const summary = known[name];
      for (const [step, wire, ts] of points) {
        const value = wireNumber(wire);
        if (summary === undefined) {
          known[name] = {
            name,
            metric: name,
            count: 1,
            nanCount: 0,
            min: value,
            max: value,
            firstStep: step,
            lastStep: step,
            latest: { step, value, ts },
            lastLogged: { step, value, ts },
          };
          run.metrics = known;
          continue;
        }
        if (Number.isFinite(value)) {
          if (!(wireNumber(summary.min) <= value)) summary.min = value;
          if (!(wireNumber(summary.max) >= value)) summary.max = value;
        }
        if (step >= summary.latest.step) summary.latest = { step, value, ts };
      }
    }
    this.schedule();
  }

  applyState(id: string, state: RunState): void {
    const position = this.index.get(id);
    if (position === undefined) return;
    this.runs[position]!.state = state;
    this.schedule();
  }

  /**
   * The keyboard in the table (focus it with Tab): arrows, Home and End move between runs, Space
   * selects or unselects one, Enter opens its page.
   */
  private onKey(event: KeyboardEvent): void {
    const runAt = (index: number) => {
      const row = this.rows[index];
      return row !== undefined && !isGroupHeader(row) ? row : undefined;
    };
    const move = (from: number, direction: 1 | -1) => {
      for (let index = from; index >= 0 && index < this.rows.length; index += direction) {
        if (runAt(index)) return index;
      }
      return this.cursor;
    };
    let handled = true;
    if (event.key === 'ArrowDown') this.cursor = move(this.cursor + 1, 1);
    else if (event.key === 'ArrowUp') this.cursor = move(Math.max(0, this.cursor - 1), -1);
    else if (event.key === 'Home') this.cursor = move(0, 1);
    else if (event.key === 'End') this.cursor = move(this.rows.length - 1, -1);
    else if (event.key === ' ' && runAt(this.cursor)) {
      const { id } = runAt(this.cursor)!;
      const { selected } = this.options;
      if (selected.has(id)) selected.delete(id);
      else selected.add(id);
      this.options.onSelect(selected);
    } else if (event.key === 'Enter' && runAt(this.cursor))
      this.options.onOpen(runAt(this.cursor)!.id);
    else handled = false;
    if (!handled) return;
    event.preventDefault();
    // Keep the row in view.
    const top = this.cursor * ROW_HEIGHT;
    if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + ROW_HEIGHT > this.viewport.scrollTop + this.viewport.clientHeight) {
      this.viewport.scrollTop = top + ROW_HEIGHT - this.viewport.clientHeight;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderRows();
    });
  }

  private renderRows(): void {
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const rows: HTMLElement[] = [];
    for (let position = first; position < last; position++) {
      const run = this.rows[position]!;
      if (isGroupHeader(run)) {
        rows.push(
          h(
            'div',
            {
              class: 'runs-row group-row',
              role: 'row',
              'data-group': run.group,
              style: `transform:translateY(${position * ROW_HEIGHT}px)`,
            },
            h('span', { role: 'gridcell' }, `${run.group} (${run.count})`),
          ),
        );
        continue;
      }
      rows.push(
        h(
          'div',
          {
            class: `runs-row${this.options.selected.has(run.id) ? ' selected' : ''}${position === this.cursor ? ' cursor' : ''}`,
            'aria-selected': String(this.options.selected.has(run.id)),
            role: 'row',
            'data-run': run.id,
            style: `transform:translateY(${position * ROW_HEIGHT}px)`,
          },
          ...this.columns.map((column) =>
            h('span', { role: 'gridcell', 'data-column': column.key }, column.cell(run)),
          ),
        ),
      );
    }
    this.spacer.replaceChildren(...rows);
  }
}
