/**
 * The fake MLflow's checks of request bodies against MLflow's documented messages (backends.md
 * D.1, D.2): field names and types (int64 as an integer or a string of digits, double as a number
 * or "NaN", "Infinity", "-Infinity", as the proto JSON mapping allows), required fields, key names
 * and lengths, value lengths, and the LogBatch limits. A failed check throws a `Refusal` with
 * MLflow's error code and a message like MLflow's.
 */
/** LogBatch limits and name rules (mlflow/utils/validation.py, backends.md D.2). */
export const FAKE_MLFLOW_LIMITS = {
  maxMetrics: 1000,
  maxParamsTags: 100,
  maxEntities: 1000,
  maxRequestBytes: 1_000_000,
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 5000,
};
const KEY_PATTERN = /^[/\w.\- ]*$/;
export const ERROR_STATUS: Record<string, number> = {
  INVALID_PARAMETER_VALUE: 400,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  REQUEST_LIMIT_EXCEEDED: 429,
  TEMPORARILY_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};
export const CODE_OF_STATUS: Record<number, string> = {
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  429: 'REQUEST_LIMIT_EXCEEDED',
  500: 'INTERNAL_ERROR',
  503: 'TEMPORARILY_UNAVAILABLE',
};

export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Body = Record<string, unknown>;
type Field = 'string' | 'int64' | 'double' | 'array' | 'enum';

export function check(
  body: Body,
  fields: Record<string, Field>,
  where: string,
  required: string[] = [],
): void {
  for (const name of Object.keys(body)) {
    if (!(name in fields))
      throw new Refusal('INVALID_PARAMETER_VALUE', `${where}: unknown field "${name}"`);
  }
  for (const name of required) {
    if (body[name] === undefined)
      throw new Refusal(
        'INVALID_PARAMETER_VALUE',
        `${where}: missing value for required parameter '${name}'`,
      );
  }
  for (const [name, type] of Object.entries(fields)) {
    const value = body[name];
    if (value === undefined) continue;
    const ok =
      type === 'string' || type === 'enum'
        ? typeof value === 'string'
        : type === 'int64'
          ? Number.isInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value))
          : type === 'double'
            ? typeof value === 'number' ||
              value === 'NaN' ||
              value === 'Infinity' ||
              value === '-Infinity'
            : Array.isArray(value);
    if (!ok)
      throw new Refusal(
        'INVALID_PARAMETER_VALUE',
        `${where}: "${name}" must be ${type}, got ${JSON.stringify(value)}`,
      );
  }
}

export function checkKey(key: unknown, where: string): string {
  if (typeof key !== 'string' || key === '')
    throw new Refusal('INVALID_PARAMETER_VALUE', `${where}: key must be a non-empty string`);
  if (!KEY_PATTERN.test(key) || key.startsWith('/') || key.split('/').includes('..')) {
    throw new Refusal(
      'INVALID_PARAMETER_VALUE',
      `Invalid value "${key}" for parameter '${where}' supplied: names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/)`,
    );
  }
  if (key.length > FAKE_MLFLOW_LIMITS.maxKeyLength)
    throw new Refusal(
      'INVALID_PARAMETER_VALUE',
      `${where}: key "${key.slice(0, 40)}..." longer than 250`,
    );
  return key;
}

export function checkKeyValues(
  list: unknown[],
  where: string,
  maxValue: number,
): Array<{ key: string; value: string }> {
  return list.map((item, index) => {
    const entry = item as Body;
    check(entry, { key: 'string', value: 'string' }, `${where}[${index}]`, ['key', 'value']);
    const key = checkKey(entry.key, `${where}[${index}].key`);
    const value = entry.value as string;
    if (value.length > maxValue)
      throw new Refusal(
        'INVALID_PARAMETER_VALUE',
        `${where}[${index}]: value of length ${value.length} exceeds ${maxValue}`,
      );
    return { key, value };
  });
}

export interface CheckedLogBatch {
  runId: string;
  metrics: Array<{ key: string; value: number | string; timestamp: number; step: number }>;
  params: Array<{ key: string; value: string }>;
  tags: Array<{ key: string; value: string }>;
}

const METRIC_FIELDS: Record<string, Field> = {
  key: 'string',
  value: 'double',
  timestamp: 'int64',
  step: 'int64',
  dataset_name: 'string',
  dataset_digest: 'string',
  model_id: 'string',
  run_id: 'string',
};

function atMost(count: number, limit: number, what: string): void {
  if (count > limit) {
    throw new Refusal(
      'INVALID_PARAMETER_VALUE',
      `A batch logging request can contain at most ${limit} ${what}. Got ${count} ${what}.`,
    );
  }
}

/** A LogBatch body checked against its message and limits (write-once params are the store's). */
export function checkLogBatch(body: Body): CheckedLogBatch {
  check(body, { run_id: 'string', metrics: 'array', params: 'array', tags: 'array' }, 'LogBatch', [
    'run_id',
  ]);
  const metrics = (body.metrics as unknown[] | undefined) ?? [];
  const params = (body.params as unknown[] | undefined) ?? [];
  const tags = (body.tags as unknown[] | undefined) ?? [];
  const limits = FAKE_MLFLOW_LIMITS;
  atMost(metrics.length, limits.maxMetrics, 'metrics');
  atMost(params.length, limits.maxParamsTags, 'params');
  atMost(tags.length, limits.maxParamsTags, 'tags');
  atMost(
    metrics.length + params.length + tags.length,
    limits.maxEntities,
    'metrics, params, and tags in total',
  );
  return {
    runId: body.run_id as string,
    metrics: metrics.map((item, index) => {
      const metric = item as Body;
      const where = `LogBatch.metrics[${index}]`;
      check(metric, METRIC_FIELDS, where, ['key', 'value', 'timestamp']);
      checkKey(metric.key, `${where}.key`);
      if (Number(metric.timestamp) < 0) {
        throw new Refusal('INVALID_PARAMETER_VALUE', `${where}: timestamp must be >= 0`);
      }
      return {
        key: metric.key as string,
        value: metric.value as number | string,
        timestamp: Number(metric.timestamp),
        step: Number(metric.step ?? 0),
      };
    }),
    params: checkKeyValues(params, 'LogBatch.params', limits.maxParamValueLength),
    tags: checkKeyValues(tags, 'LogBatch.tags', limits.maxTagValueLength),
  };
}

export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;

export interface CheckedUpdateRun {
  runId: unknown;
  status?: (typeof RUN_STATUSES)[number];
  endTime?: number;
  runName?: string;
}

/** An UpdateRun body checked against its message; RunStatus goes by name in JSON. */
export function checkUpdateRun(body: Body): CheckedUpdateRun {
  const fields: Record<string, Field> = {
    run_id: 'string',
    run_uuid: 'string',
    status: 'enum',
    end_time: 'int64',
    run_name: 'string',
  };
  check(body, fields, 'UpdateRun');
  const status = body.status as CheckedUpdateRun['status'];
  if (status !== undefined && !RUN_STATUSES.includes(status)) {
    throw new Refusal(
      'INVALID_PARAMETER_VALUE',
      `UpdateRun: unknown status ${JSON.stringify(status)}`,
    );
  }
  return {
    runId: body.run_id ?? body.run_uuid,
    ...(status !== undefined && { status }),
    ...(body.end_time !== undefined && { endTime: Number(body.end_time) }),
    ...(body.run_name !== undefined && { runName: body.run_name as string }),
  };
}
