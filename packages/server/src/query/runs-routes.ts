/**
 * The query API for runs and what they hold, under /api/v1 (see openapi-document.ts):
 *
 *   GET /runs                          list: experiment, status, tag, q, filter, sort, limit, cursor, metrics
 *   GET /runs/latest                   a runs table: the same selection, only the latest values of `metrics`
 *   GET /runs/{id}                     one run: params, tags, git, machine, state, summary (every series)
 *   GET /runs/{id}/metrics             the series a run has, with their summaries
 *   GET /runs/{id}/metrics/latest      the latest value per series (highest step) and the last logged
 *   GET /runs/{id}/metrics/history     ?name= every point in step order, paged by cursor
 *   GET /runs/{id}/metrics/series      ?name=&points=&x=step|time|relative&from=&to= downsampled buckets
 *   GET /runs/{id}/metrics/export      ?name=&format=csv|json every point, streamed
 *   GET /runs/{id}/plots | images | images/content | annotations | artifacts
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/http-error.js';
import type { RunListQuery, RunState, RunStore } from '../storage/run-store.js';
import {
  finiteNumber,
  integer,
  list,
  metricName,
  oneOf,
  type Query,
  runId,
  text,
} from './query-parameters.js';
import { parseFilter, parseSort } from './run-filter.js';
import { writeRunsTable } from './runs-table-reply.js';

/** Runs per page by default; a runs table of 10,000 can be read in one page at most. */
export const DEFAULT_RUNS_PAGE = 100;
export const MAX_RUNS_PAGE = 10_000;
/** Metric summaries asked for with a runs list, at most. */
const MAX_LIST_METRICS = 50;
/** Tags a runs list can require at once. */
const MAX_TAG_FILTERS = 20;
/** Points per history page by default and at most (~60 bytes each in JSON). */
export const DEFAULT_HISTORY_PAGE = 1_000;
export const MAX_HISTORY_PAGE = 10_000;
/** Buckets of a downsampled series by default (a chart's width in pixels) and at most. */
export const DEFAULT_SERIES_POINTS = 1_000;
export const MAX_SERIES_POINTS = 10_000;
/** Points read per store call while exporting a series. */
const EXPORT_PAGE = 10_000;

const STATES: readonly RunState[] = ['running', 'stale', 'completed', 'failed', 'interrupted'];

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return String(value);
}

/** The selection of a runs list, from the query string. */
function runListQuery(query: Query): RunListQuery {
  const states = list(query, 'status', STATES.length);
  for (const state of states) {
    if (!STATES.includes(state as RunState)) {
      throw new HttpError(
        400,
        'invalid_parameter',
        `status: must be one of ${STATES.join(', ')}, got ${JSON.stringify(state)}`,
      );
    }
  }
  const metrics = list(query, 'metrics', MAX_LIST_METRICS).map((name) =>
    metricName(name, 'metrics'),
  );
  const experiment = text(query, 'experiment');
  const search = text(query, 'q');
  const cursor = text(query, 'cursor');
  const sort = parseSort(text(query, 'sort'));
  return {
    limit: integer(query, 'limit', { fallback: DEFAULT_RUNS_PAGE, min: 1, max: MAX_RUNS_PAGE })!,
    ...(experiment !== undefined && { experiment }),
    ...(states.length > 0 && { states: states as RunState[] }),
    tags: list(query, 'tag', MAX_TAG_FILTERS),
    ...(search !== undefined && { text: search }),
    conditions: parseFilter(text(query, 'filter')),
    ...(sort !== undefined && { sort }),
    ...(cursor !== undefined && { cursor }),
    ...(metrics.length > 0 && { metrics }),
  };
}

export function registerRunsRoutes(app: FastifyInstance, store: RunStore): void {
  const existing = async (id: unknown) => {
    const run = await store.getRun(runId(id));
    if (run === undefined) throw new HttpError(404, 'not_found', `no run with id ${String(id)}`);
    return run;
  };

  app.get('/api/v1/runs', async (request) => {
    const page = await store.listRuns(runListQuery(request.query as Query));
    return {
      runs: page.items,
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
    };
  });

  // A runs table: the same selection as /runs, each run with only the latest values asked for,
  // as rows: `latest[i]` is [step, value at that step, value logged last] of `metrics[i]`, or
  // null. Compact on purpose (a 10,000-run table is ~2.5 MB, not ~3.5), and written as bytes
  // row by row (runs-table-reply.ts): a 10,000-run table is the hot path of a runs page.
  app.get('/api/v1/runs/latest', async (request, reply) => {
    const selection = runListQuery(request.query as Query);
    const body = await writeRunsTable(store, selection);
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get('/api/v1/runs/:id', async (request) => {
    const run = await existing((request.params as Query).id);
    return { run: { ...run, metrics: await store.listSeries(run.id) } };
  });

  app.get('/api/v1/runs/:id/metrics', async (request) => {
    const run = await existing((request.params as Query).id);
    return { metrics: await store.listSeries(run.id) };
  });

  app.get('/api/v1/runs/:id/metrics/latest', async (request) => {
    const run = await existing((request.params as Query).id);
    const series = await store.listSeries(run.id);
    return {
      latest: series.map((item) => ({ name: item.name, ...item.latest })),
      lastLogged: series.map((item) => ({ name: item.name, ...item.lastLogged })),
    };
  });

  app.get('/api/v1/runs/:id/metrics/history', async (request) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const name = metricName(query.name);
    const cursor = text(query, 'cursor');
    const page = await store.history(run.id, name, {
      limit: integer(query, 'limit', {
        fallback: DEFAULT_HISTORY_PAGE,
        min: 1,
        max: MAX_HISTORY_PAGE,
      })!,
      ...(cursor !== undefined && { cursor }),
    });
    return {
      name,
      points: page.items,
      ...(page.nextCursor !== undefined && { nextCursor: page.nextCursor }),
    };
  });

  app.get('/api/v1/runs/:id/metrics/series', async (request) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const from = finiteNumber(query, 'from');
    const to = finiteNumber(query, 'to');
    return store.downsample(run.id, metricName(query.name), {
      points: integer(query, 'points', {
        fallback: DEFAULT_SERIES_POINTS,
        min: 1,
        max: MAX_SERIES_POINTS,
      })!,
      x: oneOf(query, 'x', ['step', 'time', 'relative'] as const, 'step'),
      ...(from !== undefined && { from }),
      ...(to !== undefined && { to }),
    });
  });

  app.get('/api/v1/runs/:id/metrics/export', async (request, reply) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const name = metricName(query.name);
    const format = oneOf(query, 'format', ['csv', 'json'] as const, 'csv');
    // Fails here, before the headers are sent, when the series does not exist.
    await store.history(run.id, name, { limit: 1 });
    async function* lines(): AsyncGenerator<string> {
      if (format === 'csv') yield 'step,value,timestamp\n';
      else yield '[';
      let cursor: string | undefined;
      let first = true;
      do {
        const page = await store.history(run.id, name, {
          limit: EXPORT_PAGE,
          ...(cursor !== undefined && { cursor }),
        });
        let chunk = '';
        for (const point of page.items) {
          if (format === 'csv') {
            chunk += `${point.step},${formatNumber(point.value)},${new Date(point.ts).toISOString()}\n`;
          } else {
            const value = Number.isFinite(point.value)
              ? point.value
              : `"${formatNumber(point.value)}"`;
            chunk += `${first ? '' : ','}{"step":${point.step},"value":${value},"ts":${point.ts}}`;
            first = false;
          }
        }
        yield chunk;
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      if (format === 'json') yield ']\n';
    }
    const file = `${run.name}-${name}`.replace(/[^A-Za-z0-9._-]+/g, '_');
    reply
      .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json')
      .header('content-disposition', `attachment; filename="${file}.${format}"`);
    return reply.send(Readable.from(lines()));
  });

  app.get('/api/v1/runs/:id/plots', async (request) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const name = query.name === undefined ? undefined : metricName(query.name);
    return { plots: await store.listPlots(run.id, name) };
  });

  app.get('/api/v1/runs/:id/images', async (request) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const name = query.name === undefined ? undefined : metricName(query.name);
    return { images: await store.listImages(run.id, name) };
  });

  app.get('/api/v1/runs/:id/images/content', async (request, reply) => {
    const query = request.query as Query;
    const run = await existing((request.params as Query).id);
    const name = metricName(query.name);
    const step = integer(query, 'step', { min: 0, max: Number.MAX_SAFE_INTEGER });
    const image = await store.readImage(run.id, name, step);
    if (image === undefined) {
      throw new HttpError(
        404,
        'not_found',
        `run ${run.id} has no image "${name}"${step === undefined ? '' : ` at step ${step}`}`,
      );
    }
    if (image.bytes === undefined) {
      throw new HttpError(
        404,
        'no_bytes',
        `image "${name}" was logged by reference (uri ${image.record.uri}); its bytes are not on this server`,
      );
    }
    return reply
      .header('content-type', image.record.mime)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'private, max-age=31536000, immutable')
      .send(image.bytes);
  });

  app.get('/api/v1/runs/:id/annotations', async (request) => {
    const run = await existing((request.params as Query).id);
    return { annotations: await store.listAnnotations(run.id) };
  });

  app.get('/api/v1/runs/:id/artifacts', async (request) => {
    const run = await existing((request.params as Query).id);
    return { artifacts: await store.listArtifacts(run.id) };
  });
}
