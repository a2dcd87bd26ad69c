/**
 * @livestep/core/protocol: livestep's protocol v1 on its own, for servers, dashboards and any
 * code that reads or checks runs without recording them. It imports no `node:` module, so it
 * runs in a browser as it does in Node.
 *
 *   import { validateBatch } from '@livestep/core/protocol';
 *   const checked = validateBatch(JSON.parse(body));
 *   if (!checked.ok) reply(400, checked.issues);
 */
export * from './events.js';
export {
  type ParseJsonlOptions,
  parseJsonl,
  serializeEventLine,
  serializeRunHeader,
} from './jsonl-record.js';
export {
  type ColumnIssue,
  checkMetricColumns,
  encodeMetricColumns,
  expandMetricColumns,
  METRIC_COLUMNS_CAPABILITY,
  metricColumnsLength,
  prefixedEventId,
  withMetricColumns,
} from './metric-columns.js';
export { decodeMetricValue, encodeMetricValue, encodeNumber } from './metric-value.js';
export {
  assertValidName,
  explainBadLabels,
  explainBadName,
  MAX_LABEL_KEY_BYTES,
  MAX_LABEL_VALUE_BYTES,
  MAX_LABELS,
  MAX_NAME_BYTES,
  MAX_SEGMENT_BYTES,
  type NamedThing,
  RESERVED_SEGMENTS,
} from './names.js';
export {
  assertValidBatch,
  type BatchValidation,
  metricColumnsIssues,
  type ValidateBatchOptions,
  type ValidationIssue,
  validateBatch,
  type WireBatchValidation,
} from './validate-batch.js';
