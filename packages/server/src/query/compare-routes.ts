/**
 * Comparing runs in one request (ClearML's limit, 100 runs, is this one's):
 *
 *   GET /api/v1/compare?runs=<id>,<id>...&metrics=train/loss,eval/acc&points=200
 *     each run with its params and, per metric, its summary and a downsampled series
 *   GET /api/v1/compare/params?runs=<id>,<id>...[&all=true]
 *     the params as flat keys (`optimizer.lr`), a value per run, and whether they differ
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/http-error.js';
import type { RunStore, SeriesSummary } from '../storage/run-store.js';
import { integer, list, metricName, oneOf, type Query, runId } from './query-parameters.js';

/** Runs compared in one request at most. */
export const MAX_COMPARED_RUNS = 100;
/** Metrics compared in one request at most. */
export const MAX_COMPARED_METRICS = 20;
/** Buckets per series by default in a comparison (100 runs x 20 metrics stays a few MB). */
const DEFAULT_COMPARE_POINTS = 200;
const MAX_COMPARE_POINTS = 2_000;

function flatten(value: unknown, prefix: string, into: Map<string, unknown>): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) {
      flatten(item, prefix === '' ? key : `${prefix}.${key}`, into);
    }
  } else into.set(prefix, value);
}

export function registerCompareRoutes(app: FastifyInstance, store: RunStore): void {
  const runsOf = async (query: Query) => {
    const ids = list(query, 'runs', MAX_COMPARED_RUNS).map((id) => runId(id, 'runs'));
    if (ids.length === 0) {
      throw new HttpError(
        400,
        'invalid_parameter',
        'runs: give the ids to compare, e.g. runs=<id>,<id>',
      );
    }
    const runs = await Promise.all(ids.map((id) => store.getRun(id)));
    const missing = ids.filter((_, index) => runs[index] === undefined);
    if (missing.length > 0)
      throw new HttpError(404, 'not_found', `no run with id ${missing.join(', ')}`);
    return runs.map((run) => run!);
  };

  app.get('/api/v1/compare', async (request) => {
    const query = request.query as Query;
    const runs = await runsOf(query);
    const metrics = list(query, 'metrics', MAX_COMPARED_METRICS).map((name) =>
      metricName(name, 'metrics'),
    );
    const points = integer(query, 'points', {
      fallback: DEFAULT_COMPARE_POINTS,
      min: 1,
      max: MAX_COMPARE_POINTS,
    })!;
    const x = oneOf(query, 'x', ['step', 'time', 'relative'] as const, 'step');
    const compared = [];
    for (const run of runs) {
      const summaries = new Map<string, SeriesSummary>(
        (await store.listSeries(run.id)).map((series) => [series.name, series]),
      );
      const series: Record<string, unknown> = {};
      for (const name of metrics) {
        const summary = summaries.get(name);
        if (summary === undefined) continue;
        const view = await store.downsample(run.id, name, { points, x });
        series[name] = { summary, buckets: view.buckets, bucketWidth: view.bucketWidth };
      }
      compared.push({
        id: run.id,
        experiment: run.experiment,
        name: run.name,
        state: run.state,
        params: run.params,
        metrics: series,
      });
    }
    return { runs: compared };
  });

  app.get('/api/v1/compare/params', async (request) => {
    const query = request.query as Query;
    const runs = await runsOf(query);
    const all = oneOf(query, 'all', ['true', 'false'] as const, 'false') === 'true';
    const flat = runs.map((run) => {
      const values = new Map<string, unknown>();
      flatten(run.params, '', values);
      return values;
    });
    const keys = [...new Set(flat.flatMap((values) => [...values.keys()]))].sort();
    const params = [];
    for (const key of keys) {
      const values = flat.map((entries) => (entries.has(key) ? entries.get(key) : null));
      const shown = values.map((value) => JSON.stringify(value));
      const differs = shown.some((value) => value !== shown[0]);
      if (differs || all) params.push({ key, values, differs });
    }
    return { runs: runs.map((run) => ({ id: run.id, name: run.name })), params };
  });
}
