/**
 * What the fake ClearML API server checks and answers, from backends.md A: the error codes and
 * subcodes (A.3, A.4; clearml-server apiserver/apierrors/errors.conf), the response envelope
 * (A.4), the task types, the status transition table (A.8), and the request bodies of the calls
 * a logging client makes (tasks.create with its hyperparams, tasks.edit_hyper_params, the status
 * changes, projects.*). The events of `events.add_batch` are checked in fake-clearml-events.ts.
 *
 * Stricter than ClearML on purpose in one way: an unknown field in a request body is a 400 and a
 * violation (the server's schemas may let some through, where a misspelt field would be lost).
 */

/** The server's highest API version (A.1). */
export const MAX_API_VERSION = '2.31';

export const FAKE_CLEARML_LIMITS = {
  /** The SDK's api.http.max_req_size (A.5): a client splits its batches below this. */
  maxRequestBytes: 15_728_640,
  /** auth.login's default and highest expiration_sec (A.3). */
  defaultExpirationSec: 2_592_000,
  maxExpirationSec: 31_536_000,
} as const;

/** tasks.create's `type` enum (A.8). */
export const TASK_TYPES: ReadonlySet<string> = new Set([
  'training',
  'testing',
  'inference',
  'data_processing',
  'application',
  'monitor',
  'controller',
  'optimizer',
  'service',
  'qc',
  'custom',
]);

export type FakeClearmlStatus =
  | 'created'
  | 'queued'
  | 'in_progress'
  | 'stopped'
  | 'failed'
  | 'completed'
  | 'closed'
  | 'publishing'
  | 'published';

/** The allowed transitions without `force` (A.8; a move to the same status is allowed too). */
export const TRANSITIONS: Readonly<Record<FakeClearmlStatus, readonly FakeClearmlStatus[]>> = {
  created: ['queued', 'in_progress'],
  queued: ['created', 'in_progress', 'stopped'],
  in_progress: ['stopped', 'failed', 'created', 'completed'],
  stopped: [
    'closed',
    'created',
    'failed',
    'queued',
    'in_progress',
    'published',
    'publishing',
    'completed',
  ],
  failed: ['created', 'stopped', 'published', 'queued'],
  completed: ['published', 'in_progress', 'created'],
  closed: [],
  publishing: [],
  published: [],
};

/** The status each status call sets (A.8). */
export const STATUS_CALLS: Readonly<Record<string, FakeClearmlStatus>> = {
  'tasks.started': 'in_progress',
  'tasks.completed': 'completed',
  'tasks.failed': 'failed',
  'tasks.stopped': 'stopped',
  'tasks.close': 'closed',
};

/**
 * The endpoints the fake serves, each with its lowest API version (`actual_version` in the
 * envelope; a lower requested version is 404/0 as in service_repo.py). The versions other than
 * 2.1 and tasks.completed's 2.2 (A.8) are inferences.
 */
export const ENDPOINTS: Readonly<Record<string, string>> = {
  'auth.login': '2.1',
  'projects.get_all': '2.1',
  'projects.create': '2.1',
  'tasks.create': '2.1',
  'tasks.get_by_id': '2.1',
  'tasks.get_all': '2.1',
  'tasks.edit_hyper_params': '2.9',
  'tasks.started': '2.1',
  'tasks.completed': '2.2',
  'tasks.failed': '2.1',
  'tasks.stopped': '2.1',
  'tasks.close': '2.1',
  'events.add': '2.1',
  'events.add_batch': '2.1',
};

/** A ClearML hyperparameter (`params_item`). */
export interface FakeClearmlParam {
  section: string;
  name: string;
  value: string;
  type?: string;
  description?: string;
}

/** ClearML's task hyperparams: section → name → item. */
export type FakeClearmlHyperparams = Record<string, Record<string, FakeClearmlParam>>;

/** An answer other than 200, thrown by a route; `violation` marks a request that broke the API. */
export class ClearmlAnswer extends Error {
  constructor(
    readonly code: number,
    readonly subcode: number,
    message: string,
    readonly violation = false,
    readonly errorData: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A 400 for a body that breaks the schema (a violation). */
export function invalid(subcode: number, message: string): ClearmlAnswer {
  return new ClearmlAnswer(400, subcode, message, true);
}

export function unauthorized(subcode: 1 | 10 | 20 | 21 | 22 | 30): ClearmlAnswer {
  const messages = {
    1: 'Unauthorized (not authorized for endpoint)',
    10: 'Unauthorized (bad authentication header type)',
    20: 'Unauthorized (missing credentials)',
    21: 'Unauthorized (malformed credentials)',
    22: 'Unauthorized (invalid credentials)',
    30: 'Invalid token',
  };
  return new ClearmlAnswer(401, subcode, messages[subcode]);
}

export interface Envelope {
  meta: {
    id: string;
    trx: string;
    endpoint: {
      name: string;
      requested_version: string | number;
      actual_version: string | number | null;
    };
    result_code: number;
    result_subcode: number;
    result_msg: string;
    error_stack: string | null;
    error_data: Record<string, unknown>;
  };
  data: Record<string, unknown>;
}

/** Compares two `major.minor` versions (2.9 < 2.10 < 2.31), as negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

/** Versions are strings, except for requests below 2.1, which get floats (A.4). */
export function versionValue(version: string, requested: string): string | number {
  return compareVersions(requested, '2.1') < 0 ? Number(version) : version;
}

export type Body = Record<string, unknown>;

export function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type FieldType = 'string' | 'boolean' | 'integer' | 'object' | 'array' | 'strings' | 'any';

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'strings':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'any':
      return true;
  }
}

/** Field names and types; required fields missing are 400/11, a wrong type or unknown field 400/12. */
export function check(
  body: Body,
  fields: Record<string, FieldType>,
  endpoint: string,
  required: readonly string[] = [],
): void {
  const missing = required.filter((field) => body[field] === undefined || body[field] === null);
  if (missing.length > 0)
    throw invalid(11, `Missing required fields (${endpoint}): ${missing.join(', ')}`);
  for (const [field, value] of Object.entries(body)) {
    const type = fields[field];
    if (type === undefined)
      throw invalid(12, `Validation error (${endpoint}): unknown field ${field}`);
    if (value !== null && !hasType(value, type))
      throw invalid(
        12,
        `Validation error (${endpoint}): ${field} must be ${type === 'strings' ? 'an array of strings' : `a ${type}`}, got ${JSON.stringify(value)}`,
      );
  }
}

const PARAM_FIELDS = new Set(['section', 'name', 'value', 'type', 'description']);

/** One `params_item`; `where` names it in the message. */
export function checkParam(item: unknown, where: string): FakeClearmlParam {
  if (!isObject(item)) throw invalid(12, `Validation error: ${where} must be an object`);
  for (const key of Object.keys(item)) {
    if (!PARAM_FIELDS.has(key)) throw invalid(12, `Validation error: ${where}.${key} is unknown`);
  }
  for (const key of ['section', 'name', 'value'] as const) {
    if (typeof item[key] !== 'string')
      throw invalid(
        12,
        `Validation error: ${where}.${key} must be a string, got ${JSON.stringify(item[key])}`,
      );
  }
  for (const key of ['type', 'description'] as const) {
    if (item[key] !== undefined && item[key] !== null && typeof item[key] !== 'string')
      throw invalid(12, `Validation error: ${where}.${key} must be a string`);
  }
  const param: FakeClearmlParam = {
    section: item.section as string,
    name: item.name as string,
    value: item.value as string,
  };
  if (typeof item.type === 'string') param.type = item.type;
  if (typeof item.description === 'string') param.description = item.description;
  return param;
}

/** tasks.create's `hyperparams`: `{section: {name: params_item}}`, the item naming its own keys. */
export function checkHyperparams(value: unknown): FakeClearmlHyperparams {
  if (!isObject(value))
    throw invalid(12, 'Validation error: hyperparams must be {section: {name: {...}}}');
  const result: FakeClearmlHyperparams = {};
  for (const [section, names] of Object.entries(value)) {
    if (!isObject(names))
      throw invalid(12, `Validation error: hyperparams.${section} must be {name: {...}}`);
    result[section] = {};
    for (const [name, item] of Object.entries(names)) {
      const param = checkParam(item, `hyperparams.${section}.${name}`);
      if (param.section !== section || param.name !== name)
        throw invalid(
          12,
          `Validation error: hyperparams.${section}.${name} names section ${JSON.stringify(param.section)} and name ${JSON.stringify(param.name)}`,
        );
      result[section][name] = param;
    }
  }
  return result;
}

/** The status calls' body (A.8), `tasks.completed` with `publish` too. */
export function checkStatusChange(body: Body, endpoint: string): void {
  check(
    body,
    {
      task: 'string',
      force: 'boolean',
      status_reason: 'string',
      status_message: 'string',
      ...(endpoint === 'tasks.completed' && { publish: 'boolean' }),
    },
    endpoint,
    ['task'],
  );
}

export const TASK_CREATE_FIELDS = {
  name: 'string',
  type: 'string',
  project: 'string',
  comment: 'string',
  tags: 'strings',
  system_tags: 'strings',
  parent: 'string',
  output_dest: 'string',
  execution: 'object',
  script: 'object',
  hyperparams: 'object',
  configuration: 'object',
  models: 'object',
  container: 'object',
} as const;

export const PROJECT_GET_ALL_FIELDS = {
  id: 'strings',
  name: 'string',
  basename: 'string',
  description: 'string',
  tags: 'strings',
  system_tags: 'strings',
  order_by: 'strings',
  page: 'integer',
  page_size: 'integer',
  search_text: 'string',
  only_fields: 'strings',
  shallow_search: 'boolean',
  search_hidden: 'boolean',
  scroll_id: 'string',
  size: 'integer',
  include_stats: 'boolean',
} as const;

/**
 * A project name filter (a Python regex, searched as MongoDB does). The SDK's exact match,
 * `^` + re.escape(name) + `$`, is compared as text after undoing the escapes; anything else is
 * tried as a JavaScript RegExp.
 */
export function nameMatcher(pattern: string): (name: string) => boolean {
  const exact = /^\^((?:\\.|[^\\^$.|?*+()[\]{}])*)\$$/s.exec(pattern);
  if (exact !== null) {
    const text = exact[1]!.replace(/\\(.)/gs, '$1');
    return (name) => name === text;
  }
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    throw invalid(21, `Malformed regular expression: ${pattern}`);
  }
  return (name) => regex.test(name);
}
