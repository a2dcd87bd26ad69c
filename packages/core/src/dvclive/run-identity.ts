/**
 * What a run folder says about the run that wrote it, beyond DVCLive's layout: `livestep.json`
 * beside `metrics.json`, holding the run's id, experiment and name, its status (and error), and
 * which TSV holds which labelled series. DVC ignores the file; `livestep sync` reads it, so that
 * a folder synced later arrives as the run it was: its own name and experiment, `failed` when it
 * failed, labelled metrics as labels, and event ids derived from the run's id, so that syncing the
 * same run twice stores nothing twice while a new run in the same folder is new.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DoneEvent, Labels, RunIdentity, RunStatus } from '../protocol/events.js';
import { writeFileAtomically } from '../sinks/append-files.js';

export const RUN_IDENTITY_FILE = 'livestep.json';

export interface RunIdentityRecord {
  protocol: 1;
  run: RunIdentity;
  /** `running` until the run's `done` was written. */
  status: 'running' | RunStatus;
  error?: DoneEvent['error'];
  /** Labelled series by their TSV's name (`eval/f1/class=setosa`): the metric and its labels. */
  series: Record<string, { name: string; labels: Labels }>;
}

/** The folder's record, or undefined when there is none (a folder DVCLive wrote) or it is unreadable. */
export function readRunIdentity(directory: string): RunIdentityRecord | undefined {
  let text: string;
  try {
    text = readFileSync(join(directory, RUN_IDENTITY_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as RunIdentityRecord;
    if (typeof record?.run?.id !== 'string' || typeof record.status !== 'string') return undefined;
    // A plain object without a prototype: series names become its keys.
    const series: RunIdentityRecord['series'] = Object.create(null);
    for (const [key, value] of Object.entries(record.series ?? {})) {
      if (typeof value?.name === 'string' && typeof value.labels === 'object') series[key] = value;
    }
    return { ...record, series };
  } catch {
    return undefined;
  }
}

export function writeRunIdentity(directory: string, record: RunIdentityRecord): void {
  writeFileAtomically(join(directory, RUN_IDENTITY_FILE), `${JSON.stringify(record, null, 2)}\n`);
}
