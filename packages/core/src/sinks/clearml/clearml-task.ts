/**
 * The task's life in ClearML (backends.md A.8): the project got or created by its exact name, as
 * the SDK does (`projects.get_all` with an anchored, escaped regex, then `projects.create`, then a
 * second look if another process created it meanwhile); `tasks.create` of type training with the
 * run's name, tags and git; `tasks.started`; at the end `tasks.completed`, `tasks.failed` or
 * `tasks.stopped`.
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
    system_tags: ['livestep'],
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

export function taskIdOf(data: unknown): string | undefined {
  return idOf(data);
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
