/**
 * The fake ClearML's projects and tasks (backends.md A.8): projects.get_all (the name as a
 * Python regex) and projects.create (a unique name, parents of a `a/b` name made too),
 * tasks.create, tasks.edit_hyper_params, the status calls with ClearML's transition table, and
 * tasks.get_by_id / tasks.get_all to read a task back.
 */
import { randomUUID } from 'node:crypto';
import {
  type Body,
  ClearmlAnswer,
  check,
  checkHyperparams,
  checkParam,
  checkStatusChange,
  type FakeClearmlHyperparams,
  type FakeClearmlStatus,
  invalid,
  nameMatcher,
  PROJECT_GET_ALL_FIELDS,
  STATUS_CALLS,
  TASK_CREATE_FIELDS,
  TASK_TYPES,
  TRANSITIONS,
} from './fake-clearml-schema.js';

export interface FakeClearmlProject {
  id: string;
  name: string;
  basename: string;
  description?: string;
  tags: string[];
  system_tags: string[];
  created: string;
}

export interface FakeClearmlTransition {
  call: string;
  from: FakeClearmlStatus;
  to: FakeClearmlStatus;
  force: boolean;
  status_reason?: string;
  status_message?: string;
}

export interface FakeClearmlTask {
  id: string;
  name: string;
  type: string;
  project?: string;
  status: FakeClearmlStatus;
  status_reason?: string;
  status_message?: string;
  comment?: string;
  tags: string[];
  system_tags: string[];
  script?: Body;
  hyperparams: FakeClearmlHyperparams;
  /** ISO-8601 times. */
  created: string;
  started?: string;
  completed?: string;
  last_update: string;
  /** Every status call that changed (or kept) the status, in order. */
  transitions: FakeClearmlTransition[];
  /** The tasks.create body as received. */
  createBody: Body;
}

/** A 32-character hex ID, as ClearML's uuid4().hex. */
export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

function project(body: Record<string, unknown>, name: string): FakeClearmlProject {
  return {
    id: newId(),
    name,
    basename: name.split('/').pop()!,
    ...(typeof body.description === 'string' && { description: body.description }),
    tags: (body.tags as string[] | undefined) ?? [],
    system_tags: (body.system_tags as string[] | undefined) ?? [],
    created: new Date().toISOString(),
  };
}

function pick(entity: object, onlyFields: unknown): Body {
  const whole = { ...entity } as Body;
  delete whole.transitions;
  delete whole.createBody;
  if (!Array.isArray(onlyFields) || onlyFields.length === 0) return whole;
  const picked: Body = { id: whole.id };
  for (const field of onlyFields as string[]) {
    if (whole[field] !== undefined) picked[field] = whole[field];
  }
  return picked;
}

export class FakeClearmlTasks {
  readonly projects = new Map<string, FakeClearmlProject>();
  readonly tasks = new Map<string, FakeClearmlTask>();

  /** Answers a projects.* or tasks.* call (undefined for other endpoints). */
  route(endpoint: string, body: Body): Body | undefined {
    if (endpoint in STATUS_CALLS) return this.changeStatus(endpoint, body);
    switch (endpoint) {
      case 'projects.get_all':
        return this.getProjects(body);
      case 'projects.create':
        return this.createProject(body);
      case 'tasks.create':
        return this.createTask(body);
      case 'tasks.edit_hyper_params':
        return this.editHyperparams(body);
      case 'tasks.get_by_id':
        check(body, { task: 'string' }, endpoint, ['task']);
        return { task: pick(this.task(body.task), undefined) };
      case 'tasks.get_all':
        return this.getTasks(body);
      default:
        return undefined;
    }
  }

  /** The task, or 400/101 invalid_task_id. */
  task(id: unknown): FakeClearmlTask {
    const task = typeof id === 'string' ? this.tasks.get(id) : undefined;
    if (task === undefined)
      throw new ClearmlAnswer(400, 101, `Invalid task id (id=${String(id)})`, false, { id });
    return task;
  }

  private getProjects(body: Body): Body {
    check(body, PROJECT_GET_ALL_FIELDS, 'projects.get_all');
    const matches = typeof body.name === 'string' ? nameMatcher(body.name) : () => true;
    const ids = body.id as string[] | undefined;
    const found = [...this.projects.values()].filter(
      (item) =>
        matches(item.name) &&
        (ids === undefined || ids.includes(item.id)) &&
        (body.search_hidden === true || !item.system_tags.includes('hidden')),
    );
    return { projects: found.map((item) => pick(item, body.only_fields)) };
  }

  private createProject(body: Body): Body {
    check(
      body,
      {
        name: 'string',
        description: 'string',
        tags: 'strings',
        system_tags: 'strings',
        default_output_destination: 'string',
      },
      'projects.create',
      ['name'],
    );
    const name = (body.name as string).trim();
    if (name === '' || name.split('/').some((part) => part.trim() === ''))
      throw invalid(407, `Invalid project name (name=${JSON.stringify(body.name)})`);
    if ([...this.projects.values()].some((item) => item.name === name))
      throw new ClearmlAnswer(
        400,
        801,
        `Value combination already exists (unique field): Project with the same name already exists (name=${name})`,
        false,
        { name },
      );
    const parts = name.split('/');
    for (let depth = 1; depth < parts.length; depth++) {
      const parent = parts.slice(0, depth).join('/');
      if (![...this.projects.values()].some((item) => item.name === parent)) {
        const made = project({}, parent);
        this.projects.set(made.id, made);
      }
    }
    const created = project(body, name);
    this.projects.set(created.id, created);
    return { id: created.id };
  }

  private createTask(body: Body): Body {
    check(body, TASK_CREATE_FIELDS, 'tasks.create', ['name', 'type']);
    if (!TASK_TYPES.has(body.type as string))
      throw invalid(
        12,
        `Validation error (tasks.create): type must be one of ${[...TASK_TYPES].join(', ')}, got ${JSON.stringify(body.type)}`,
      );
    if (
      body.project !== undefined &&
      body.project !== null &&
      !this.projects.has(body.project as string)
    )
      throw invalid(401, `Invalid project id (id=${String(body.project)})`);
    const hyperparams = body.hyperparams === undefined ? {} : checkHyperparams(body.hyperparams);
    const now = new Date().toISOString();
    const task: FakeClearmlTask = {
      id: newId(),
      name: body.name as string,
      type: body.type as string,
      ...(typeof body.project === 'string' && { project: body.project }),
      status: 'created',
      ...(typeof body.comment === 'string' && { comment: body.comment }),
      tags: (body.tags as string[] | undefined) ?? [],
      system_tags: (body.system_tags as string[] | undefined) ?? [],
      ...(body.script !== undefined && { script: body.script as Body }),
      hyperparams,
      created: now,
      last_update: now,
      transitions: [],
      createBody: body,
    };
    this.tasks.set(task.id, task);
    return { id: task.id };
  }

  private editHyperparams(body: Body): Body {
    check(
      body,
      { task: 'string', hyperparams: 'array', replace_hyperparams: 'string', force: 'boolean' },
      'tasks.edit_hyper_params',
      ['task', 'hyperparams'],
    );
    const replace = (body.replace_hyperparams as string | undefined) ?? 'none';
    if (!['none', 'section', 'all'].includes(replace))
      throw invalid(
        12,
        `Validation error: replace_hyperparams must be none, section or all, got ${replace}`,
      );
    const items = (body.hyperparams as unknown[]).map((item, index) =>
      checkParam(item, `hyperparams[${index}]`),
    );
    const task = this.task(body.task);
    // clearml-server edits hyperparams (other than section `properties`) only of a task still
    // `created`, or `created`/`in_progress` with force (bll/task/utils.py get_task_for_update).
    const editable =
      task.status === 'created' || (body.force === true && task.status === 'in_progress');
    if (!editable && !items.every((item) => item.section === 'properties'))
      throw new ClearmlAnswer(
        400,
        110,
        `Invalid task status (Task status is not editable: task=${task.id}, status=${task.status}${body.force === true ? '' : ', force not set'})`,
        false,
        { task: task.id, status: task.status },
      );
    if (replace === 'all') task.hyperparams = {};
    if (replace === 'section') for (const item of items) task.hyperparams[item.section] = {};
    for (const item of items) {
      task.hyperparams[item.section] ??= {};
      task.hyperparams[item.section]![item.name] = item;
    }
    task.last_update = new Date().toISOString();
    return { updated: 1 };
  }

  private changeStatus(endpoint: string, body: Body): Body {
    checkStatusChange(body, endpoint);
    const task = this.task(body.task);
    const to = STATUS_CALLS[endpoint]!;
    const from = task.status;
    const force = body.force === true;
    if (!force && from !== to && !TRANSITIONS[from].includes(to))
      throw new ClearmlAnswer(
        400,
        110,
        `Invalid task status (Invalid status change: task=${task.id}, current_status=${from}, new_status=${to})`,
        true,
        { task: task.id, current_status: from, new_status: to },
      );
    const now = new Date().toISOString();
    task.status = to;
    task.status_reason = (body.status_reason as string | undefined) ?? '';
    task.status_message = (body.status_message as string | undefined) ?? '';
    task.last_update = now;
    const transition: FakeClearmlTransition = { call: endpoint, from, to, force };
    if (typeof body.status_reason === 'string') transition.status_reason = body.status_reason;
    if (typeof body.status_message === 'string') transition.status_message = body.status_message;
    task.transitions.push(transition);
    const fields: Body = {
      status: to,
      status_reason: task.status_reason,
      status_message: task.status_message,
      status_changed: now,
      last_update: now,
    };
    if (to === 'in_progress' && task.started === undefined) {
      task.started = now;
      fields.started = now;
    }
    if (to === 'completed') {
      task.completed = now;
      fields.completed = now;
    }
    if (endpoint === 'tasks.started') return { updated: 1, fields, started: 1 };
    if (endpoint === 'tasks.completed' && body.publish === true)
      return { updated: 1, fields, published: 0 };
    return { updated: 1, fields };
  }

  private getTasks(body: Body): Body {
    check(
      body,
      {
        id: 'strings',
        name: 'string',
        project: 'strings',
        status: 'strings',
        type: 'strings',
        only_fields: 'strings',
        order_by: 'strings',
        page: 'integer',
        page_size: 'integer',
        search_hidden: 'boolean',
        tags: 'strings',
        system_tags: 'strings',
      },
      'tasks.get_all',
    );
    // A task matches a tags filter when it has every tag listed ('-tag' excludes one).
    const tagged = (list: unknown, has: string[]) =>
      !Array.isArray(list) ||
      list.every((tag: string) =>
        tag.startsWith('-') ? !has.includes(tag.slice(1)) : has.includes(tag),
      );
    const matches = typeof body.name === 'string' ? nameMatcher(body.name) : () => true;
    const within = (list: unknown, value: string | undefined) =>
      !Array.isArray(list) || (value !== undefined && list.includes(value));
    const found = [...this.tasks.values()].filter(
      (task) =>
        matches(task.name) &&
        within(body.id, task.id) &&
        within(body.project, task.project) &&
        within(body.status, task.status) &&
        within(body.type, task.type) &&
        tagged(body.tags, task.tags) &&
        tagged(body.system_tags, task.system_tags),
    );
    return { tasks: found.map((task) => pick(task, body.only_fields)) };
  }
}
