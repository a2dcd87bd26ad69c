/**
 * Grouping the runs table by experiment or by a param: the rows become each group's header
 * followed by its runs, groups in the order their first run has in the server's sort (so the
 * sort still decides), runs keeping that order inside their group.
 */
import type { RunItem } from './api-types.js';

export interface GroupHeader {
  group: string;
  count: number;
}

export type TableRow = RunItem | GroupHeader;

export function isGroupHeader(row: TableRow): row is GroupHeader {
  return 'group' in row;
}

/** The value a run is grouped by: `experiment`, or `params.<path>`. */
export function groupValue(run: RunItem, key: string): string {
  if (key === 'experiment') return run.experiment;
  let value: unknown = run.params;
  for (const part of key.replace(/^params\./, '').split('.')) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)[part]
        : undefined;
  }
  return value === undefined ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value);
}

export function groupRuns(runs: readonly RunItem[], key: string): TableRow[] {
  if (key === '') return [...runs];
  const groups = new Map<string, RunItem[]>();
  for (const run of runs) {
    const value = groupValue(run, key);
    const members = groups.get(value);
    if (members) members.push(run);
    else groups.set(value, [run]);
  }
  const label = key === 'experiment' ? 'experiment' : key.replace(/^params\./, '');
  return [...groups].flatMap(([value, members]) => [
    { group: `${label} = ${value}`, count: members.length },
    ...members,
  ]);
}
