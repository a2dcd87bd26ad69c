/**
 * `livestep ls` and `livestep show RUN`: what a running server holds, as a table or as JSON.
 *
 *   livestep ls [--experiment x] [--status running,stale] [--filter "eval/acc >= 0.9"] [--sort -created] [--limit 50] [--json]
 *   livestep show <run id | run name> [--json]
 */
import { type ServerClient, serverClient } from './server-client.js';
import { formatTime, formatValue, textTable } from './text-table.js';

/** Runs `ls` shows by default: a screenful and then some. */
const DEFAULT_LIST_LIMIT = 50;
/** Metric columns `ls` shows at most (the first names of the newest run). */
const MAX_LIST_METRIC_COLUMNS = 4;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface QueryOptions {
  url?: string;
  json?: boolean;
  experiment?: string;
  status?: string;
  filter?: string;
  sort?: string;
  limit?: string;
  metrics?: string;
}

type Output = { out: (text: string) => void; error: (text: string) => void };
type Json = Record<string, unknown>;

export async function listRuns(
  options: QueryOptions,
  environment: NodeJS.ProcessEnv,
  output: Output,
): Promise<number> {
  const client = serverClient(options.url, environment);
  const parameters = new URLSearchParams({ limit: options.limit ?? String(DEFAULT_LIST_LIMIT) });
  for (const key of ['experiment', 'status', 'filter', 'sort'] as const) {
    const value = options[key];
    if (value !== undefined) parameters.set(key, value);
  }
  let metrics = options.metrics?.split(',').filter((name) => name !== '') ?? [];
  if (metrics.length === 0 && !options.json) {
    // The newest run's first metric names make the columns.
    const newest = await client.get(
      `/api/v1/runs?${new URLSearchParams({ ...Object.fromEntries(parameters), limit: '1' })}`,
    );
    const run = (newest.runs as Json[])[0];
    if (run !== undefined) {
      const detail = await client.get(`/api/v1/runs/${run.id}/metrics`);
      metrics = (detail.metrics as Json[])
        .slice(0, MAX_LIST_METRIC_COLUMNS)
        .map((series) => String(series.name));
    }
  }
  if (metrics.length > 0) parameters.set('metrics', metrics.join(','));
  const answer = await client.get(`/api/v1/runs?${parameters}`);
  const runs = answer.runs as Json[];
  if (options.json) {
    output.out(`${JSON.stringify(answer, null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    output.out(`no runs on ${client.url}${parameters.size > 1 ? ' matching these options' : ''}\n`);
    return 0;
  }
  const rows = runs.map((run) => {
    const summaries = (run.metrics ?? {}) as Record<string, Json>;
    return [
      String(run.id).slice(0, 8),
      String(run.experiment),
      String(run.name),
      String(run.state),
      formatTime(run.startedAt ?? run.createdAt),
      ...metrics.map((name) => formatValue((summaries[name]?.latest as Json | undefined)?.value)),
    ];
  });
  output.out(textTable(['id', 'experiment', 'name', 'state', 'started', ...metrics], rows));
  if (answer.nextCursor !== undefined)
    output.out(`(more: --limit ${Number(parameters.get('limit')) * 2})\n`);
  return 0;
}

async function findRun(client: ServerClient, reference: string): Promise<Json> {
  if (UUID.test(reference)) return (await client.get(`/api/v1/runs/${reference}`)).run as Json;
  const matches = (
    (await client.get(`/api/v1/runs?${new URLSearchParams({ q: reference, limit: '100' })}`))
      .runs as Json[]
  ).filter((run) => run.name === reference || String(run.id).startsWith(reference));
  if (matches.length === 0)
    throw new Error(
      `livestep: no run named or starting with ${JSON.stringify(reference)} on ${client.url}; \`livestep ls\` lists them`,
    );
  if (matches.length > 1) {
    throw new Error(
      `livestep: ${matches.length} runs match ${JSON.stringify(reference)}: ${matches.map((run) => `${String(run.id).slice(0, 8)} (${run.experiment}/${run.name})`).join(', ')}; pass the id`,
    );
  }
  return (await client.get(`/api/v1/runs/${matches[0]!.id}`)).run as Json;
}

export async function showRun(
  reference: string | undefined,
  options: QueryOptions,
  environment: NodeJS.ProcessEnv,
  output: Output,
): Promise<number> {
  if (reference === undefined) {
    output.error('livestep: show needs a run: its id, the start of its id, or its name\n');
    return 2;
  }
  const client = serverClient(options.url, environment);
  const run = await findRun(client, reference);
  if (options.json) {
    output.out(`${JSON.stringify(run, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `run        ${run.id}`,
    `experiment ${run.experiment}`,
    `name       ${run.name}`,
    `state      ${run.state}${run.error ? ` (${(run.error as Json).message})` : ''}`,
    `started    ${formatTime(run.startedAt ?? run.createdAt)}`,
  ];
  if (run.endedAt !== undefined) lines.push(`ended      ${formatTime(run.endedAt)}`);
  if (run.message !== undefined) lines.push(`message    ${run.message}`);
  if ((run.tags as string[]).length > 0)
    lines.push(`tags       ${(run.tags as string[]).join(', ')}`);
  const git = run.git as Json | undefined;
  if (git?.sha !== undefined)
    lines.push(
      `git        ${String(git.sha).slice(0, 12)}${git.dirty ? ' (dirty)' : ''}${git.branch ? ` on ${git.branch}` : ''}`,
    );
  if (Object.keys(run.params as Json).length > 0)
    lines.push(`params     ${JSON.stringify(run.params)}`);
  output.out(`${lines.join('\n')}\n`);
  const metrics = run.metrics as Json[];
  if (metrics.length > 0) {
    output.out(
      `\n${textTable(
        ['metric', 'latest', 'step', 'min', 'max', 'points'],
        metrics.map((series) => [
          String(series.name),
          formatValue((series.latest as Json).value),
          String((series.latest as Json).step),
          formatValue(series.min),
          formatValue(series.max),
          String(series.count),
        ]),
      )}`,
    );
  }
  return 0;
}
