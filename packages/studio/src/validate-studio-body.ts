/**
 * Checks a body against DVC Studio's api/live schema (as the reference client defines it), for
 * test receivers and for servers that accept Studio posts. Stricter than the schema where the
 * reference's facts are precise (metric rows, paths), so a sender that passes here is one Studio
 * accepts. Every problem names the field: `plots["x.tsv"].data[3].step: must be an integer`.
 */

export interface StudioBodyIssue {
  /** Where, e.g. `step` or `plots["dvclive/plots/metrics/loss.tsv"].data[0].timestamp`. */
  path: string;
  message: string;
}

export type StudioBodyType = 'start' | 'data' | 'done';

/** The reference cuts messages to this many characters. */
const MAX_MESSAGE_LENGTH = 72;
/** The reference's check of a baseline sha (after lowercasing on the client). */
const BASELINE_SHA_PATTERN = /^[0-9a-h]{40}$/;
const EXPERIMENT_REV_PATTERN = /^[0-9a-f]{40}$/i;
const METRIC_VALUE_STRINGS = new Set(['nan', 'inf', '-inf']);

const COMMON_KEYS = [
  'type',
  'repo_url',
  'baseline_sha',
  'name',
  'client',
  'params',
  'metrics',
  'machine',
  'env',
  'errors',
];
const KEYS_BY_TYPE: Record<StudioBodyType, Set<string>> = {
  start: new Set([...COMMON_KEYS, 'message', 'subdir']),
  data: new Set([...COMMON_KEYS, 'step', 'plots']),
  done: new Set([...COMMON_KEYS, 'experiment_rev']),
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** A file path as Studio files it: POSIX, relative, without `.`/`..` segments. */
function pathProblem(path: string): string | undefined {
  if (path === '') return 'must not be empty';
  if (path.includes('\\')) return 'must be a POSIX path (no backslashes)';
  if (path.startsWith('/') || /^[a-z]:/i.test(path)) return 'must be relative to the repository';
  if (path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return 'must not have empty, "." or ".." segments';
  }
  return undefined;
}

/** Validates a parsed body; an empty list means it is valid. */
export function validateStudioBody(body: unknown): StudioBodyIssue[] {
  const issues: StudioBodyIssue[] = [];
  const fail = (path: string, message: string) => issues.push({ path, message });
  if (!isObject(body)) {
    fail('(body)', `must be a JSON object, got ${describe(body)}`);
    return issues;
  }
  const type = body.type;
  if (type !== 'start' && type !== 'data' && type !== 'done') {
    fail('type', `is required and must be "start", "data" or "done", got ${describe(type)}`);
    return issues;
  }
  const allowed = KEYS_BY_TYPE[type];
  for (const key of Object.keys(body)) {
    if (!allowed.has(key)) fail(key, `is not allowed in a ${type} body`);
  }
  if (typeof body.repo_url !== 'string' || body.repo_url === '') {
    fail('repo_url', `is required and must be a non-empty string, got ${describe(body.repo_url)}`);
  }
  if (typeof body.baseline_sha !== 'string' || !BASELINE_SHA_PATTERN.test(body.baseline_sha)) {
    fail(
      'baseline_sha',
      `is required and must match ${BASELINE_SHA_PATTERN}, got ${describe(body.baseline_sha)}`,
    );
  }
  for (const key of ['name', 'client'] as const) {
    if (key in body && typeof body[key] !== 'string') {
      fail(key, `must be a string, got ${describe(body[key])}`);
    }
  }
  for (const key of ['machine', 'env'] as const) {
    if (key in body && !isObject(body[key]))
      fail(key, `must be an object, got ${describe(body[key])}`);
  }
  if ('errors' in body) validateErrors(body.errors, fail);
  if ('params' in body) validateParams(body.params, fail);
  if ('metrics' in body) validateMetrics(body.metrics, fail);

  if (type === 'start') {
    if ('message' in body) {
      if (typeof body.message !== 'string')
        fail('message', `must be a string, got ${describe(body.message)}`);
      else if (Array.from(body.message).length > MAX_MESSAGE_LENGTH) {
        fail(
          'message',
          `must be at most ${MAX_MESSAGE_LENGTH} characters, got ${Array.from(body.message).length}`,
        );
      }
    }
    if ('subdir' in body && typeof body.subdir !== 'string') {
      fail('subdir', `must be a string, got ${describe(body.subdir)}`);
    }
  }
  if (type === 'data') {
    if (typeof body.step !== 'number' || !Number.isInteger(body.step)) {
      fail('step', `is required in a data body and must be an integer, got ${describe(body.step)}`);
    }
    if ('plots' in body) validatePlots(body.plots, fail);
  }
  if (type === 'done' && 'experiment_rev' in body) {
    if (
      typeof body.experiment_rev !== 'string' ||
      !EXPERIMENT_REV_PATTERN.test(body.experiment_rev)
    ) {
      fail('experiment_rev', `must be a 40-character sha, got ${describe(body.experiment_rev)}`);
    }
  }
  return issues;
}

type Fail = (path: string, message: string) => void;

function validateErrors(errors: unknown, fail: Fail): void {
  if (!Array.isArray(errors)) {
    fail('errors', `must be a list, got ${describe(errors)}`);
    return;
  }
  errors.forEach((error, index) => {
    if (!isObject(error)) {
      fail(`errors[${index}]`, `must be an object {cls, text}, got ${describe(error)}`);
      return;
    }
    for (const key of Object.keys(error)) {
      if (key !== 'cls' && key !== 'text') fail(`errors[${index}].${key}`, 'is not allowed');
    }
    for (const key of ['cls', 'text'] as const) {
      if (typeof error[key] !== 'string') {
        fail(
          `errors[${index}].${key}`,
          `is required and must be a string, got ${describe(error[key])}`,
        );
      }
    }
  });
}

function validateParams(params: unknown, fail: Fail): void {
  if (!isObject(params)) {
    fail('params', `must be an object of file path -> params, got ${describe(params)}`);
    return;
  }
  for (const [path, value] of Object.entries(params)) {
    const where = `params[${JSON.stringify(path)}]`;
    const problem = pathProblem(path);
    if (problem) fail(where, `key ${problem}`);
    if (!isObject(value)) fail(where, `must be an object, got ${describe(value)}`);
  }
}

function validateMetrics(metrics: unknown, fail: Fail): void {
  if (!isObject(metrics)) {
    fail('metrics', `must be an object of file path -> {data}, got ${describe(metrics)}`);
    return;
  }
  for (const [path, value] of Object.entries(metrics)) {
    const where = `metrics[${JSON.stringify(path)}]`;
    const problem = pathProblem(path);
    if (problem) fail(where, `key ${problem}`);
    if (!isObject(value)) {
      fail(where, `must be an object {data}, got ${describe(value)}`);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (key !== 'data') fail(`${where}.${key}`, 'is not allowed');
    }
    if (!isObject(value.data))
      fail(`${where}.data`, `is required and must be an object, got ${describe(value.data)}`);
  }
}

function validatePlots(plots: unknown, fail: Fail): void {
  if (!isObject(plots)) {
    fail('plots', `must be an object of file path -> plot, got ${describe(plots)}`);
    return;
  }
  for (const [path, plot] of Object.entries(plots)) {
    const where = `plots[${JSON.stringify(path)}]`;
    const problem = pathProblem(path);
    if (problem) fail(where, `key ${problem}`);
    if (!isObject(plot)) {
      fail(where, `must be an object with data or image, got ${describe(plot)}`);
      continue;
    }
    for (const key of Object.keys(plot)) {
      if (key !== 'data' && key !== 'image' && key !== 'props')
        fail(`${where}.${key}`, 'is not allowed');
    }
    const hasData = 'data' in plot;
    const hasImage = 'image' in plot;
    if (hasData === hasImage)
      fail(where, 'must have exactly one of data (a list of rows) or image (base64)');
    if ('props' in plot && !isObject(plot.props))
      fail(`${where}.props`, `must be an object, got ${describe(plot.props)}`);
    if (hasImage && (typeof plot.image !== 'string' || plot.image === '')) {
      fail(`${where}.image`, `must be a non-empty base64 string, got ${describe(plot.image)}`);
    }
    if (!hasData) continue;
    if (!Array.isArray(plot.data)) {
      fail(`${where}.data`, `must be a list of rows, got ${describe(plot.data)}`);
      continue;
    }
    const isMetricSeries = path.endsWith('.tsv');
    plot.data.forEach((row: unknown, index: number) => {
      const rowWhere = `${where}.data[${index}]`;
      if (!isObject(row)) {
        fail(rowWhere, `must be an object, got ${describe(row)}`);
        return;
      }
      if (!isMetricSeries) return;
      // A metric row: step an integer, timestamp a string, values numbers or "nan"/"inf"/"-inf".
      if (typeof row.step !== 'number' || !Number.isInteger(row.step)) {
        fail(`${rowWhere}.step`, `must be an integer, got ${describe(row.step)}`);
      }
      if (typeof row.timestamp !== 'string') {
        fail(`${rowWhere}.timestamp`, `must be a string, got ${describe(row.timestamp)}`);
      }
      for (const [key, value] of Object.entries(row)) {
        if (key === 'step' || key === 'timestamp') continue;
        if (
          typeof value !== 'number' &&
          !(typeof value === 'string' && METRIC_VALUE_STRINGS.has(value))
        ) {
          fail(
            `${rowWhere}.${key}`,
            `must be a number or "nan"/"inf"/"-inf", got ${describe(value)}`,
          );
        }
      }
    });
  }
}

/**
 * Parses and validates a raw body. JSON with NaN or Infinity (which JSON does not allow and
 * Python's json module would accept) is reported as such.
 */
export function validateStudioBodyText(text: string): {
  body?: unknown;
  issues: StudioBodyIssue[];
} {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    const nonFinite = /(?:^|[^"\w])(-?Infinity|NaN)(?:[^"\w]|$)/.exec(text);
    const message = nonFinite
      ? `contains ${nonFinite[1]}, which JSON cannot carry; send "nan", "inf" or "-inf"`
      : `is not JSON: ${error instanceof Error ? error.message : String(error)}`;
    return { issues: [{ path: '(body)', message }] };
  }
  return { body, issues: validateStudioBody(body) };
}
