/**
 * The small language of the runs list's `filter` and `sort` parameters:
 *
 *   filter=params.lr > 0.01 and eval/acc >= 0.9 and max(train/loss) < 2 and status = completed
 *   sort=-max(eval/acc)        (a leading "-": descending)   sort=params.lr   sort=created
 *
 * A field is `params.<path>`, a run column (created, started, ended, name, experiment, status),
 * `latest|last|min|max|count(<metric>)`, or a metric name alone (its latest value, by step). A
 * name with spaces or "=" in it goes in double quotes. Values: numbers, true/false, or text
 * (quoted or not). Nothing here becomes SQL text: the store binds every value.
 */
import { explainBadName } from '@livestep/core/protocol';
import { badParameter } from '../http/http-error.js';
import type { MetricAggregate, RunCondition, SortField } from '../storage/run-store.js';

/** Conditions in one filter at most: each one is a join or an indexed comparison. */
const MAX_CONDITIONS = 20;
const COLUMNS = new Set(['created', 'started', 'ended', 'name', 'experiment', 'status']);
const AGGREGATES = new Set<MetricAggregate>(['latest', 'last', 'min', 'max', 'count']);

function unquote(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return trimmed.slice(1, -1).replace(/\\"/g, '"');
  }
  return trimmed;
}

export function parseField(text: string, parameter: string): SortField {
  const field = text.trim();
  if (field.startsWith('params.')) {
    const path = field.slice('params.'.length).split('.');
    if (path.some((key) => key === '')) {
      throw badParameter(
        parameter,
        `${JSON.stringify(field)}: a param path such as params.optimizer.lr`,
      );
    }
    return { type: 'param', path };
  }
  if (COLUMNS.has(field)) return { type: 'column', column: field as 'created' };
  const call = /^(latest|last|min|max|count)\((.+)\)$/.exec(field);
  const aggregate = (call?.[1] ?? 'latest') as MetricAggregate;
  const name = unquote(call?.[2] ?? field);
  if (!AGGREGATES.has(aggregate)) throw badParameter(parameter, `unknown summary ${aggregate}`);
  const problem = explainBadName(name);
  if (problem !== undefined) {
    throw badParameter(
      parameter,
      `${JSON.stringify(name)} is not a params.<path>, a column (${[...COLUMNS].join(', ')}) or a metric name: it ${problem}`,
    );
  }
  return { type: 'metric', name, aggregate };
}

function parseValue(text: string): string | number | boolean {
  const trimmed = text.trim();
  if (trimmed.startsWith('"')) return unquote(trimmed);
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

/** Splits `a and b and c` at `and` outside double quotes. */
function splitConditions(filter: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  const words = filter.split(/(\s+and\s+|")/i);
  for (const word of words) {
    if (word === '"') {
      quoted = !quoted;
      current += word;
    } else if (!quoted && /^\s+and\s+$/i.test(word)) {
      parts.push(current);
      current = '';
    } else current += word;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

export function parseFilter(filter: string | undefined): RunCondition[] {
  if (filter === undefined) return [];
  const conditions = splitConditions(filter);
  if (conditions.length > MAX_CONDITIONS) {
    throw badParameter('filter', `has ${conditions.length} conditions; at most ${MAX_CONDITIONS}`);
  }
  return conditions.map((condition) => {
    // The field ends at the first operator outside quotes and parentheses.
    let depth = 0;
    let quoted = false;
    let index = -1;
    for (let position = 0; position < condition.length && index < 0; position++) {
      const character = condition[position]!;
      if (character === '"') quoted = !quoted;
      else if (!quoted && character === '(') depth++;
      else if (!quoted && character === ')') depth--;
      else if (!quoted && depth === 0 && /[=<>!]/.test(character) && position > 0) index = position;
    }
    const two = condition.slice(index, index + 2);
    const operator = (
      ['!=', '<=', '>='].includes(two) ? two : condition[index]
    ) as RunCondition['operator'];
    if (index < 0 || operator === ('!' as string)) {
      throw badParameter(
        'filter',
        `${JSON.stringify(condition)} has no comparison; write e.g. params.lr > 0.01 or eval/acc >= 0.9`,
      );
    }
    const field = condition.slice(0, index).trim();
    const value = condition.slice(index + operator.length).trim();
    if (field === '' || value === '') {
      throw badParameter(
        'filter',
        `${JSON.stringify(condition)}: a field, an operator and a value`,
      );
    }
    return { field: parseField(field, 'filter'), operator, value: parseValue(value) };
  });
}

export function parseSort(
  sort: string | undefined,
): { field: SortField; descending: boolean } | undefined {
  if (sort === undefined) return undefined;
  const descending = sort.startsWith('-');
  return { field: parseField(descending ? sort.slice(1) : sort, 'sort'), descending };
}
