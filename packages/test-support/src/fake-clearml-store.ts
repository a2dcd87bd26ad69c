/**
 * What the fake ClearML keeps (backends.md A.5, A.8): projects and tasks (fake-clearml-tasks.ts)
 * and each task's events, stored as the server stores them: scalars, vectors, plots and debug
 * images under their document ID (a re-sent one overwrites), logs appended; and the readers
 * tests use.
 */
import {
  checkEvent,
  eventId,
  type FakeClearmlEvent,
  type FakeClearmlImage,
  type FakeClearmlLog,
  type FakeClearmlPlot,
  type FakeClearmlScalar,
  type FakeClearmlVector,
} from './fake-clearml-events.js';
import { FakeClearmlHttp } from './fake-clearml-http.js';
import {
  type Body,
  ClearmlAnswer,
  type FakeClearmlHyperparams,
  type FakeClearmlStatus,
} from './fake-clearml-schema.js';
import { type FakeClearmlTask, FakeClearmlTasks } from './fake-clearml-tasks.js';

interface TaskEvents {
  /** Scalars, plots, images, vectors by document ID (a re-sent one replaces, keeping its place). */
  documents: Map<string, FakeClearmlEvent>;
  logs: FakeClearmlLog[];
  /** Every scalar accepted, in arrival order (re-sent ones too). */
  scalarArrivals: FakeClearmlScalar[];
}

export abstract class FakeClearmlStore extends FakeClearmlHttp {
  /** Requests that broke ClearML's API (or the fake's stricter checks): tests assert there are none. */
  readonly violations: Array<{ path: string; message: string }> = [];
  protected readonly store = new FakeClearmlTasks();
  private readonly events = new Map<string, TaskEvents>();
  private serial = 0;

  get projects() {
    return this.store.projects;
  }

  get tasks() {
    return this.store.tasks;
  }

  /** The only task (throws unless there is exactly one). */
  onlyTask(): FakeClearmlTask {
    const tasks = [...this.tasks.values()];
    if (tasks.length !== 1) throw new Error(`expected one ClearML task, found ${tasks.length}`);
    return tasks[0]!;
  }

  task(id: string): FakeClearmlTask {
    const task = this.tasks.get(id);
    if (task === undefined) throw new Error(`no ClearML task ${id}`);
    return task;
  }

  status(taskId: string): FakeClearmlStatus {
    return this.task(taskId).status;
  }

  hyperparams(taskId: string): FakeClearmlHyperparams {
    return this.task(taskId).hyperparams;
  }

  /** A variant's stored points (one per iteration, a re-sent one overwriting), in first-arrival order. */
  scalars(taskId: string, metric: string, variant: string): Array<{ iter: number; value: number }> {
    return this.documents(taskId, 'training_stats_scalar')
      .filter((event) => event.metric === metric && event.variant === variant)
      .map(({ iter, value }) => ({ iter, value }));
  }

  /** The stored scalar events of a task (all metrics), in first-arrival order. */
  scalarEvents(taskId: string): FakeClearmlScalar[] {
    return this.documents(taskId, 'training_stats_scalar');
  }

  /** Every scalar event accepted for a task, re-sent ones too, in arrival order. */
  scalarArrivals(taskId: string): FakeClearmlScalar[] {
    return this.events.get(taskId)?.scalarArrivals ?? [];
  }

  plots(taskId: string): FakeClearmlPlot[] {
    return this.documents(taskId, 'plot');
  }

  images(taskId: string): FakeClearmlImage[] {
    return this.documents(taskId, 'training_debug_image');
  }

  vectors(taskId: string): FakeClearmlVector[] {
    return this.documents(taskId, 'training_stats_vector');
  }

  logs(taskId: string): FakeClearmlLog[] {
    return this.events.get(taskId)?.logs ?? [];
  }

  private documents<T extends FakeClearmlEvent['type']>(
    taskId: string,
    type: T,
  ): Array<Extract<FakeClearmlEvent, { type: T }>> {
    const documents = this.events.get(taskId)?.documents.values() ?? [];
    return [...documents].filter(
      (event): event is Extract<FakeClearmlEvent, { type: T }> => event.type === type,
    );
  }

  protected addBatch(events: Body[], worker: string | undefined, path: string): Body {
    let added = 0;
    const errorsInfo: Record<string, number> = {};
    const now = Date.now();
    const status = (id: string) => this.tasks.get(id)?.status;
    for (const raw of events) {
      const checked = checkEvent(raw, status, worker, now);
      if ('error' in checked) {
        errorsInfo[checked.error] = (errorsInfo[checked.error] ?? 0) + 1;
        if (checked.violation !== undefined)
          this.violations.push({ path, message: checked.violation });
        continue;
      }
      const { event } = checked;
      let stored = this.events.get(event.task);
      if (stored === undefined) {
        stored = { documents: new Map(), logs: [], scalarArrivals: [] };
        this.events.set(event.task, stored);
      }
      if (event.type === 'log') stored.logs.push(event);
      else stored.documents.set(eventId(event, this.serial++), event);
      if (event.type === 'training_stats_scalar') stored.scalarArrivals.push(event);
      added++;
    }
    const errors = events.length - added;
    const result = { added, errors, errors_info: errorsInfo };
    if (added === 0)
      throw new ClearmlAnswer(
        400,
        131,
        `Events not added (${JSON.stringify(result)})`,
        false,
        result,
      );
    return result;
  }
}
