/**
 * Protocol v1 validation at ingest speed, metric columns included (the `metrics` blocks this
 * server announces it takes). Core's `validateBatch` is the authority (and names
 * every wrong field), but it collects error lists even for a valid batch (~200,000 points/s
 * here). This check compiles the same schemas core exports (EVENT_SCHEMAS, RunIdentitySchema)
 * and applies the same name rule (core's explainBadName), answering yes or no at ~5,000,000
 * points/s; only a batch it refuses goes through `validateBatch` to say why.
 */

import type { MetricColumns, WireBatch } from '@livestep/core/protocol';
import {
  checkMetricColumns,
  EVENT_SCHEMAS,
  explainBadName,
  METRIC_COLUMNS_KIND,
  MetricColumnsSchema,
  PROTOCOL_VERSION,
  RunIdentitySchema,
  type ValidationIssue,
  validateBatch,
  type WireBatchValidation,
} from '@livestep/core/protocol';
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';

/** Valid names seen, so a name is checked once, not once per point; bounded against made-up names. */
const NAME_CACHE_SIZE = 10_000;

const NAMED_KINDS = new Set(['metric', 'plot', 'image', 'artifact']);
/** Issues reported at most, as core's validator does. */
const MAX_ISSUES = 10;
const BATCH_KEYS = new Set(['protocol', 'run', 'events']);

let eventChecks: Map<string, TypeCheck<TSchema>> | undefined;
let runCheck: TypeCheck<TSchema> | undefined;
let columnsCheck: TypeCheck<TSchema> | undefined;
const validNames = new Set<string>();

function compile(): void {
  eventChecks = new Map(
    Object.entries(EVENT_SCHEMAS).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema)]),
  );
  runCheck = TypeCompiler.Compile(RunIdentitySchema);
  columnsCheck = TypeCompiler.Compile(MetricColumnsSchema);
}

function isValidFast(input: unknown): boolean {
  if (eventChecks === undefined) compile();
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
  const batch = input as Record<string, unknown>;
  if (batch.protocol !== PROTOCOL_VERSION) return false;
  for (const key of Object.keys(batch)) if (!BATCH_KEYS.has(key)) return false;
  if (!runCheck!.Check(batch.run)) return false;
  const events = batch.events;
  if (!Array.isArray(events)) return false;
  for (const event of events) {
    const kind = (event as { kind?: unknown } | null)?.kind;
    if (typeof kind !== 'string') return false;
    if (kind === METRIC_COLUMNS_KIND) {
      // The compiled schema, then the loop over the points (lengths, indexes, sums, names).
      if (!columnsCheck!.Check(event)) return false;
      if (checkMetricColumns(event as MetricColumns, 1).length > 0) return false;
      continue;
    }
    const check = eventChecks!.get(kind);
    if (check === undefined || !check.Check(event)) return false;
    if (NAMED_KINDS.has(kind)) {
      const name = (event as { name: string }).name;
      if (!validNames.has(name)) {
        if (explainBadName(name) !== undefined) return false;
        if (validNames.size >= NAME_CACHE_SIZE) validNames.clear();
        validNames.add(name);
      }
    }
  }
  return true;
}

/**
 * Integers the protocol's schema allows but a database cannot hold exactly (1e300 is an integer
 * to JSON Schema): a step or seq above 2^53 - 1 is refused here, naming the field.
 */
function unsafeIntegers(batch: WireBatch): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  batch.events.forEach((event, index) => {
    // A block's sums are bounded by checkMetricColumns already.
    if (event.kind === METRIC_COLUMNS_KIND) return;
    for (const field of ['seq', 'step'] as const) {
      const value = (event as { seq: number; step?: number })[field];
      if (value !== undefined && value > Number.MAX_SAFE_INTEGER && issues.length < MAX_ISSUES) {
        issues.push({
          path: `events[${index}].${field}`,
          message: `is ${value}; at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`,
        });
      }
    }
  });
  return issues;
}

export function checkBatch(input: unknown): WireBatchValidation {
  if (isValidFast(input)) {
    const issues = unsafeIntegers(input as WireBatch);
    return issues.length === 0 ? { ok: true, batch: input as WireBatch } : { ok: false, issues };
  }
  try {
    const result = validateBatch(input, { metricColumns: true });
    // Both checks apply the same schemas; should they ever disagree, refusing is the safe side.
    if (result.ok) {
      return {
        ok: false,
        issues: [{ path: '(batch)', message: "does not match protocol v1 (core's JSON Schema)" }],
      };
    }
    return result;
  } catch {
    // validateBatch looks a kind up in a plain object: "constructor" or "toString" could reach
    // Object's prototype. Say which event is wrong instead of failing.
    const events = (input as { events?: unknown[] }).events ?? [];
    const index = events.findIndex((event) => {
      const kind = String((event as { kind?: unknown } | null)?.kind);
      return kind !== METRIC_COLUMNS_KIND && !eventChecks!.has(kind);
    });
    return {
      ok: false,
      issues: [
        {
          path: index >= 0 ? `events[${index}].kind` : '(batch)',
          message: `expected one of ${Object.keys(EVENT_SCHEMAS).join(', ')}, ${METRIC_COLUMNS_KIND}`,
        },
      ],
    };
  }
}
