/**
 * The SQL of a runs list: filters (experiment, state, tags, text, conditions on params and on
 * metric summaries), a sort on any column, param or metric summary, and keyset paging by
 * (sort value, run key), so a page never skips or repeats a run while others are added. Every
 * value from the request is a bound parameter; only fixed column names are written into the SQL.
 */
import type {
  MetricAggregate,
  RunCondition,
  RunListQuery,
  RunState,
  SortField,
} from '../run-store.js';
import { BadQueryError } from '../run-store.js';

const COLUMNS: Record<string, string> = {
  created: 'r.run_key',
  started: 'r.started_at',
  ended: 'r.ended_at',
  name: 'r.name',
  experiment: 'r.experiment',
  status: 'r.status',
};

const NOT_NULL_COLUMNS = new Set(['created', 'name', 'experiment', 'status']);

const AGGREGATE_COLUMNS: Record<MetricAggregate, string> = {
  latest: 'latest_value',
  last: 'last_value',
  min: 'min_value',
  max: 'max_value',
  count: 'count',
};

/** `["a", "b c"]` -> `$."a"."b c"`: a JSON path SQLite's json_extract reads, quotes escaped. */
export function jsonPath(path: string[]): string {
  return `$${path.map((key) => `."${key.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join('')}`;
}

interface Cursor {
  value: string | number | null;
  key: number;
}

export function encodeListCursor(value: unknown, key: number): string {
  const stored = typeof value === 'string' || typeof value === 'number' ? value : null;
  return Buffer.from(JSON.stringify([stored, key])).toString('base64url');
}

function decodeListCursor(cursor: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      (parsed[0] === null || typeof parsed[0] === 'string' || typeof parsed[0] === 'number') &&
      Number.isSafeInteger(parsed[1])
    ) {
      return { value: parsed[0], key: parsed[1] as number };
    }
  } catch {
    // reported below
  }
  throw new BadQueryError(
    'cursor',
    'cursor is not one this server gave out; pass the nextCursor of the previous page, or none for the first page',
  );
}

export interface BuiltListQuery {
  sql: string;
  parameters: Record<string, unknown>;
}

/**
 * The run columns a runs table needs (no params, machine or git to parse, no column it does not
 * answer with: every column of 10,000 rows is a value to allocate and collect).
 */
export const LIGHT_RUN_COLUMNS =
  'r.run_key, r.id, r.experiment, r.name, r.status, r.started_at, r.last_event_at';

export function buildRunListQuery(
  query: RunListQuery,
  staleBefore: number,
  columns = 'r.*',
  /** Series whose latest step, latest value and last value to select as columns (one join each, on latest_values). */
  latestOf: string[] = [],
): BuiltListQuery {
  const parameters: Record<string, unknown> = { staleBefore, limit: query.limit + 1 };
  const joins: string[] = [];
  const where: string[] = [];
  const metricAliases = new Map<string, string>();
  let counter = 0;
  const bind = (value: unknown) => {
    const name = `p${counter++}`;
    parameters[name] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    return `@${name}`;
  };
  const expression = (field: SortField): string => {
    if (field.type === 'column') return COLUMNS[field.column]!;
    if (field.type === 'param') return `json_extract(r.params, ${bind(jsonPath(field.path))})`;
    let alias = metricAliases.get(field.name);
    if (alias === undefined) {
      alias = `m${metricAliases.size}`;
      metricAliases.set(field.name, alias);
      joins.push(
        `LEFT JOIN series ${alias} ON ${alias}.run_key = r.run_key AND ${alias}.name = ${bind(field.name)}`,
      );
    }
    return `${alias}.${AGGREGATE_COLUMNS[field.aggregate]}`;
  };

  if (query.experiment !== undefined) where.push(`r.experiment = ${bind(query.experiment)}`);
  if (query.ids !== undefined) {
    where.push(`r.id IN (SELECT value FROM json_each(${bind(JSON.stringify(query.ids))}))`);
  }
  if (query.states !== undefined && query.states.length > 0) {
    where.push(`(${query.states.map((state) => stateCondition(state, bind)).join(' OR ')})`);
  }
  for (const tag of query.tags ?? []) {
    where.push(`EXISTS (SELECT 1 FROM json_each(r.tags) WHERE value = ${bind(tag)})`);
  }
  if (query.text !== undefined && query.text !== '') {
    const escaped = query.text.replace(/[\\%_]/g, (character) => `\\${character}`);
    const pattern = bind(`%${escaped}%`);
    const idPrefix = bind(`${escaped}%`);
    where.push(
      `(r.name LIKE ${pattern} ESCAPE '\\' OR r.experiment LIKE ${pattern} ESCAPE '\\' OR r.message LIKE ${pattern} ESCAPE '\\' OR r.id LIKE ${idPrefix} ESCAPE '\\')`,
    );
  }
  for (const condition of query.conditions ?? [])
    where.push(conditionSql(condition, expression, bind));

  const sortField: SortField = query.sort?.field ?? { type: 'column', column: 'created' };
  // Newest first unless told otherwise.
  const descending = query.sort === undefined ? true : query.sort.descending;
  const sortExpression = expression(sortField);
  if (query.cursor !== undefined) {
    const cursor = decodeListCursor(query.cursor);
    const key = bind(cursor.key);
    const before = descending ? '<' : '>';
    if (cursor.value === null) {
      where.push(`(${sortExpression} IS NULL AND r.run_key ${before} ${key})`);
    } else {
      const value = bind(cursor.value);
      where.push(
        `(${sortExpression} IS NULL OR ${sortExpression} ${before} ${value} OR (${sortExpression} = ${value} AND r.run_key ${before} ${key}))`,
      );
    }
  }
  const direction = descending ? 'DESC' : 'ASC';
  // Columns that are never NULL sort without the NULLs-last term, so SQLite can walk an index
  // (newest first is the primary key backwards) instead of sorting every run.
  const nullable = !(sortField.type === 'column' && NOT_NULL_COLUMNS.has(sortField.column));
  const latestColumns = latestOf.map((name) => {
    const alias = `l${joins.length}`;
    joins.push(
      `LEFT JOIN latest_values ${alias} ON ${alias}.run_key = r.run_key AND ${alias}.name = ${bind(name)}`,
    );
    return `, ${alias}.latest_step, ${alias}.latest_value, ${alias}.last_value`;
  });
  const sql = `SELECT ${columns}, ${sortExpression} AS sort_value${latestColumns.join('')} FROM runs r ${joins.join(' ')}
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY ${nullable ? `(${sortExpression} IS NULL) ASC, ` : ''}${sortExpression} ${direction}${sortExpression === 'r.run_key' ? '' : `, r.run_key ${direction}`}
    LIMIT @limit`;
  return { sql, parameters };
}

function stateCondition(state: RunState, bind: (value: unknown) => string): string {
  switch (state) {
    case 'running':
      return `(r.status = 'running' AND r.last_event_at >= @staleBefore)`;
    case 'stale':
      return `(r.status = 'running' AND r.last_event_at < @staleBefore)`;
    default:
      return `r.status = ${bind(state)}`;
  }
}

function conditionSql(
  condition: RunCondition,
  expression: (field: SortField) => string,
  bind: (value: unknown) => string,
): string {
  const operators = new Set(['=', '!=', '<', '<=', '>', '>=']);
  if (!operators.has(condition.operator)) {
    throw new BadQueryError('filter', `unknown operator ${JSON.stringify(condition.operator)}`);
  }
  return `${expression(condition.field)} ${condition.operator} ${bind(condition.value)}`;
}
