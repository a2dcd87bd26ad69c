/**
 * What the fake Dioptra checks and answers, from backends.md B: the metric body's schema
 * (`MetricsSchema` in dioptra src/dioptra/restapi/v1/jobs/schema.py), the login body, and
 * Dioptra's error body `{error, message, detail, originating_path}` (src/dioptra/restapi/errors.py).
 */

/** Dioptra's ALLOWED_METRIC_NAME_REGEX. */
export const DIOPTRA_METRIC_NAME = /^([A-Z]|[A-Z_][A-Z0-9_]+)$/i;
/** The strings Dioptra's value field takes for non-finite values (B.3). */
export const SPECIAL_VALUES: ReadonlySet<string> = new Set(['nan', 'inf', '-inf']);
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;
/** DIOPTRA_MAX_PAGE_SIZE's default (src/dioptra/restapi/config.py). */
export const MAX_PAGE_SIZE = 1000;
/** Werkzeug's Unauthorized description, as flask-restx answers Flask-Login's abort(401) (an inference, B.7). */
export const UNAUTHORIZED_MESSAGE =
  "The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.";

export type FakeDioptraValue = number | 'nan' | 'inf' | '-inf';

export interface FakeDioptraPoint {
  name: string;
  value: FakeDioptraValue;
  step: number;
  /** ISO-8601, as received (or the server's time when none was sent). */
  timestamp: string;
}

/** An answer other than 200, thrown by a route; `violation` marks a body that broke the schema. */
export class DioptraAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly violation = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(
      typeof body === 'object' && body !== null
        ? String((body as { message?: unknown }).message)
        : String(body),
    );
  }
}

/** Dioptra's error body. */
export function dioptraError(
  status: number,
  error: string,
  message: string,
  path: string,
  violation = false,
): DioptraAnswer {
  return new DioptraAnswer(
    status,
    { error, message, detail: {}, originating_path: path },
    violation,
  );
}

/** A 400 for a body that breaks the schema (recorded as a violation). */
export function badRequest(message: string, path: string): DioptraAnswer {
  return dioptraError(400, 'BadRequest', message, path, true);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The metric body as Dioptra's schema checks it (and stricter on the value's strings); throws. */
export function checkMetricBody(body: unknown, path: string): FakeDioptraPoint {
  if (!isObject(body)) throw badRequest('The metric body must be a JSON object', path);
  const problems: string[] = [];
  for (const key of Object.keys(body)) {
    if (!['name', 'value', 'step', 'timestamp'].includes(key))
      problems.push(`${key}: Unknown field.`);
  }
  const { name, value, step, timestamp } = body;
  if (typeof name !== 'string') problems.push('name: Missing data for required field.');
  else if (!DIOPTRA_METRIC_NAME.test(name)) {
    problems.push(`name: String does not match expected pattern (${JSON.stringify(name)}).`);
  }
  const special = typeof value === 'string' && SPECIAL_VALUES.has(value);
  if (!special && (typeof value !== 'number' || !Number.isFinite(value))) {
    problems.push(
      `value: Not a valid number (${JSON.stringify(value)}); a number or "nan", "inf", "-inf".`,
    );
  }
  if (step !== undefined && (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0)) {
    problems.push(`step: Not a valid integer (${JSON.stringify(step)}).`);
  }
  const isoTimestamp =
    typeof timestamp === 'string' &&
    ISO_8601.test(timestamp) &&
    !Number.isNaN(Date.parse(timestamp));
  if (timestamp !== undefined && !isoTimestamp) {
    problems.push(`timestamp: Not a valid datetime (${JSON.stringify(timestamp)}).`);
  }
  if (problems.length > 0) throw badRequest(problems.join(' '), path);
  return {
    name: name as string,
    value: value as FakeDioptraValue,
    step: (step as number | undefined) ?? 0,
    timestamp: (timestamp as string | undefined) ?? new Date().toISOString(),
  };
}

/** The login body `{username, password}`; throws. */
export function checkLogin(body: unknown, path: string): { username: string; password: string } {
  if (!isObject(body)) throw badRequest('The login body must be a JSON object', path);
  const unknown = Object.keys(body).filter((key) => key !== 'username' && key !== 'password');
  if (
    unknown.length > 0 ||
    typeof body.username !== 'string' ||
    typeof body.password !== 'string'
  ) {
    const extra = unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : '';
    throw badRequest(`Login needs {username: string, password: string}${extra}`, path);
  }
  return { username: body.username, password: body.password };
}
