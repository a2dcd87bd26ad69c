/**
 * Validates a batch against protocol v1 and names the first fields that are wrong, e.g.
 * `events[3].value: expected a finite number, or "nan", "inf", "-inf"`. Servers call it on every
 * request; sync calls it on every record it replays.
 */
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import {
  type Batch,
  EVENT_SCHEMAS,
  METRIC_COLUMNS_KIND,
  type MetricColumns,
  MetricColumnsSchema,
  PROTOCOL_VERSION,
  RunIdentitySchema,
  type WireBatch,
} from './events.js';
import { checkMetricColumns } from './metric-columns.js';
import { explainBadName } from './names.js';

/** Enough errors to fix a request; more would bury the first one. */
const MAX_REPORTED_ERRORS = 10;

export interface ValidationIssue {
  /** Where, in JavaScript notation: `events[3].value`. */
  path: string;
  message: string;
}

export type BatchValidation = { ok: true; batch: Batch } | { ok: false; issues: ValidationIssue[] };
export type WireBatchValidation =
  | { ok: true; batch: WireBatch }
  | { ok: false; issues: ValidationIssue[] };

export interface ValidateBatchOptions {
  /**
   * Accept blocks of metric points in columns (`kind: "metrics"`, see MetricColumnsSchema) among
   * the events, as a server that announces the `metric-columns` capability does. Off by default:
   * a batch read from a file or a spool holds event objects only (their readers expand a spool's
   * columns lines).
   */
  metricColumns?: boolean;
}

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checker(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** `/events/3/value` -> `events[3].value` */
function toPath(prefix: string, pointer: string): string {
  let path = prefix;
  for (const part of pointer.split('/').slice(1)) {
    path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  }
  return path;
}

function describeSchema(schema: TSchema): string {
  if (typeof schema.description === 'string') return schema.description;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  return '';
}

function collect(schema: TSchema, value: unknown, prefix: string, issues: ValidationIssue[]): void {
  for (const error of checker(schema).Errors(value)) {
    if (issues.length >= MAX_REPORTED_ERRORS) return;
    const expected = describeSchema(error.schema);
    issues.push({
      path: toPath(prefix, error.path) || '(batch)',
      message:
        expected && !error.message.includes(expected)
          ? `${error.message} (${expected})`
          : error.message,
    });
  }
}

const NAMED_KINDS = new Set(['metric', 'plot', 'image', 'artifact']);

/** Issues of one `metrics` block: the schema's first, then what only a loop over it can see. */
function collectColumns(value: unknown, prefix: string, issues: ValidationIssue[]): void {
  const before = issues.length;
  collect(MetricColumnsSchema, value, prefix, issues);
  if (issues.length > before) return;
  for (const issue of checkMetricColumns(value as MetricColumns, MAX_REPORTED_ERRORS)) {
    if (issues.length >= MAX_REPORTED_ERRORS) return;
    issues.push({ path: `${prefix}.${issue.path}`, message: issue.message });
  }
}

export function validateBatch(input: unknown): BatchValidation;
export function validateBatch(
  input: unknown,
  options: ValidateBatchOptions & { metricColumns: true },
): WireBatchValidation;
export function validateBatch(
  input: unknown,
  options?: ValidateBatchOptions,
): BatchValidation | WireBatchValidation;
export function validateBatch(
  input: unknown,
  options: ValidateBatchOptions = {},
): BatchValidation | WireBatchValidation {
  const issues: ValidationIssue[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      issues: [{ path: '(batch)', message: 'expected an object { protocol, run, events }' }],
    };
  }
  const batch = input as Record<string, unknown>;
  if (batch.protocol !== PROTOCOL_VERSION) {
    issues.push({
      path: 'protocol',
      message: `expected ${PROTOCOL_VERSION}, got ${JSON.stringify(batch.protocol)}; this receiver speaks protocol v1`,
    });
  }
  collect(RunIdentitySchema, batch.run, 'run', issues);
  for (const key of Object.keys(batch)) {
    if (!['protocol', 'run', 'events'].includes(key)) {
      issues.push({
        path: key,
        message: 'unknown field; a batch has protocol, run and events only',
      });
    }
  }
  if (!Array.isArray(batch.events)) {
    issues.push({ path: 'events', message: 'expected an array of events' });
    return { ok: false, issues };
  }
  batch.events.forEach((event: unknown, index) => {
    if (issues.length >= MAX_REPORTED_ERRORS) return;
    const prefix = `events[${index}]`;
    const kind = (event as { kind?: unknown } | null)?.kind;
    if (kind === METRIC_COLUMNS_KIND && options.metricColumns === true) {
      collectColumns(event, prefix, issues);
      return;
    }
    const schema =
      // Own keys only: a kind such as "constructor" or "__proto__" must not find Object's members.
      typeof kind === 'string' && Object.hasOwn(EVENT_SCHEMAS, kind)
        ? EVENT_SCHEMAS[kind as keyof typeof EVENT_SCHEMAS]
        : undefined;
    if (schema === undefined) {
      issues.push({
        path: `${prefix}.kind`,
        message: `expected one of ${Object.keys(EVENT_SCHEMAS).join(', ')}${options.metricColumns === true ? `, ${METRIC_COLUMNS_KIND}` : ''}, got ${JSON.stringify(kind)}`,
      });
      return;
    }
    collect(schema, event, prefix, issues);
    if (NAMED_KINDS.has(kind as string)) {
      const problem = explainBadName((event as { name?: unknown }).name);
      if (problem !== undefined) issues.push({ path: `${prefix}.name`, message: problem });
    }
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, batch: input as Batch };
}

/**
 * What is wrong with one block of metric columns on its own (a line of a spool, read back):
 * empty when it is valid. Paths start at `columns`.
 */
export function metricColumnsIssues(value: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  collectColumns(value, 'columns', issues);
  return issues;
}

/** Throws a TypeError listing what is wrong, field by field. */
export function assertValidBatch(input: unknown): Batch {
  const result = validateBatch(input);
  if (result.ok) return result.batch;
  throw new TypeError(
    `livestep: invalid batch: ${result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
  );
}
