/**
 * The task's life in ClearML (backends.md A.8): the project got or created by its exact name, as
 * the SDK does (`projects.get_all` with an anchored, escaped regex, then `projects.create`, then a
 * second look if another process created it meanwhile); the run's task found by its system tag
 * `livestep-run:<run id>`, or made (`tasks.create`, type training, with the run's name, tags and
 * git); `tasks.started`; at the end `tasks.completed`, `tasks.failed` or `tasks.stopped`.
 *
 * One livestep run is one task: a resumed run, or `livestep sync` of a run whose live delivery
 * stopped part way, goes on in the task it already has. ClearML stores a scalar, plot or image by
 * (task, iter, metric, variant), so what is sent again replaces itself (A.5); log lines repeat.
 */
import { basename } from 'node:path';
import type { DoneEvent, RunIdentity, StartEvent } from '../../protocol/events.js';

/** What a call came to: the envelope's data, a refusal for good, or delivery stopped. */
export type ClearmlResult =
  | { kind: 'answer'; data: unknown }
  | { kind: 'refused'; reason: string }
  | { kind: 'stopped' };

export type ClearmlRequester = (endpoint: string, body: unknown) => Promise<ClearmlResult>;

/** livestep's end status → the call that sets ClearML's. */
export const CLEARML_STATUS_CALL = {
  completed: 'tasks.completed',
  failed: 'tasks.failed',
  interrupted: 'tasks.stopped',
} as const satisfies Record<DoneEvent['status'], string>;

/** Python's `re.escape` (3.7+): the characters special in a regex, backslashed. */
export function escapePythonRegex(text: string): string {
  return text.replace(/[()[\]{}?*+\-|^$\\.&~# \t\n\r\v\f]/g, (character) => `\\${character}`);
}

function idOf(data: unknown): string | undefined {
  const id = (data as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

async function findProject(request: ClearmlRequester, name: string): Promise<ClearmlResult> {
  const found = await request('projects.get_all', {
    name: `^${escapePythonRegex(name)}$`,
    only_fields: ['id', 'name'],
    search_hidden: true,
  });
  if (found.kind !== 'answer') return found;
  const projects = (found.data as { projects?: unknown } | undefined)?.projects;
  const match = Array.isArray(projects)
    ? (projects.find((project) => (project as { name?: unknown }).name === name) ?? projects[0])
    : undefined;
  return { kind: 'answer', data: idOf(match) };
}

/** The project's id (`data` is the id string), created when there is none. */
export async function getOrCreateProject(
  request: ClearmlRequester,
  name: string,
): Promise<ClearmlResult> {
  const found = await findProject(request, name);
  if (found.kind !== 'answer' || found.data !== undefined) return found;
  const created = await request('projects.create', {
    name,
    description: 'Created by livestep',
  });
  if (created.kind === 'answer') {
    const id = idOf(created.data);
    return id === undefined
      ? { kind: 'refused', reason: 'projects.create answered without an id' }
      : { kind: 'answer', data: id };
  }
  if (created.kind === 'stopped') return created;
  // Another run may have created it between the look and the create (the SDK looks once more).
  const again = await findProject(request, name);
  if (again.kind === 'answer' && again.data === undefined) return created;
  return again;
}

/** The body of `tasks.create`: a training task with the run's name, tags, message and git. */
export function taskCreateBody(
  run: RunIdentity,
  start: StartEvent | undefined,
  projectId: string,
  entryPoint: string | undefined,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: run.name,
    type: 'training',
    project: projectId,
    comment: start?.message ?? `Recorded by livestep (run ${run.id})`,
    system_tags: ['livestep', runTag(run.id)],
  };
  if (start?.tags !== undefined && start.tags.length > 0) body.tags = start.tags;
  const git = start?.git;
  if (git !== undefined && git !== null) {
    const script: Record<string, unknown> = { working_dir: '.' };
    if (git.repoUrl !== undefined) script.repository = git.repoUrl;
    if (git.branch !== undefined) script.branch = git.branch;
    if (git.sha !== undefined) script.version_num = git.sha;
    if (entryPoint !== undefined) script.entry_point = basename(entryPoint);
    body.script = script;
  }
  return body;
}

/** The system tag that ties a task to its livestep run. */
export function runTag(runId: string): string {
  return `livestep-run:${runId}`;
}

/** The run's task in the project, if it has one: its id and status. */
export async function findRunTask(
  request: ClearmlRequester,
  projectId: string,
  runId: string,
): Promise<ClearmlResult> {
  const found = await request('tasks.get_all', {
    project: [projectId],
    system_tags: [runTag(runId)],
    only_fields: ['id', 'status'],
    search_hidden: true,
  });
  if (found.kind !== 'answer') return found;
  const tasks = (found.data as { tasks?: unknown } | undefined)?.tasks;
  const task = Array.isArray(tasks)
    ? (tasks[0] as { id?: unknown; status?: unknown } | undefined)
    : undefined;
  const id = idOf(task);
  return {
    kind: 'answer',
    data:
      id === undefined
        ? undefined
        : { id, status: typeof task?.status === 'string' ? task.status : undefined },
  };
}

/** The body of the status call that ends the task. */
export function statusBody(taskId: string, done: DoneEvent): Record<string, unknown> {
  const body: Record<string, unknown> = {
    task: taskId,
    status_reason: done.status,
  };
  if (done.error !== undefined) {
    body.status_message = `${done.error.name ?? 'Error'}: ${done.error.message}`.slice(0, 500);
  }
  return body;
}

export type OpenedTask =
  | {
      kind: 'opened';
      projectId: string;
      taskId: string;
      status: string | undefined;
      created: boolean;
    }
  | { kind: 'failed'; what: string; result: ClearmlResult }
  | { kind: 'stopped' };

/** The run's project and task: found (by the run's tag) or made. */
export async function openRunTask(
  request: ClearmlRequester,
  run: RunIdentity,
  start: StartEvent | undefined,
  projectName: string,
  entryPoint: string | undefined,
): Promise<OpenedTask> {
  const project = await getOrCreateProject(request, projectName);
  if (project.kind === 'stopped') return project;
  if (project.kind === 'refused' || typeof project.data !== 'string') {
    return {
      kind: 'failed',
      what: `the ClearML project "${projectName}" could not be found or created`,
      result: project,
    };
  }
  const projectId = project.data;
  const existing = await findRunTask(request, projectId, run.id);
  if (existing.kind === 'stopped') return existing;
  const known =
    existing.kind === 'answer'
      ? (existing.data as { id: string; status?: string } | undefined)
      : undefined;
  if (known !== undefined) {
    return { kind: 'opened', projectId, taskId: known.id, status: known.status, created: false };
  }
  const created = await request('tasks.create', taskCreateBody(run, start, projectId, entryPoint));
  if (created.kind === 'stopped') return created;
  const taskId = created.kind === 'answer' ? idOf(created.data) : undefined;
  if (taskId === undefined)
    return { kind: 'failed', what: 'the ClearML task could not be created', result: created };
  return { kind: 'opened', projectId, taskId, status: 'created', created: true };
}
