// biome-ignore-all lint/style/noExcessiveLinesPerFile: the OpenAPI document is data (one schema per route), not logic to split.
/**
 * The server's API as an OpenAPI 3.1 document, served at GET /api/v1/openapi.json. The batch
 * body is core's own JSON Schema (batchJsonSchema), so the document and the validator agree.
 */
import { batchJsonSchema } from '@livestep/core/protocol';

const json = (schema: Record<string, unknown>, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = {
  '400': json(ref('Error'), 'A parameter or body is wrong; `message` names it'),
  '401': json(ref('Error'), 'Missing or wrong token (when the server has one)'),
  '404': json(ref('Error'), 'No such run, metric or image'),
};
const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
  description: 'run id',
};
const nameParameter = (description = 'metric (series) name, e.g. train/loss') => ({
  name: 'name',
  in: 'query',
  required: true,
  schema: { type: 'string' },
  description,
});
const query = (name: string, schema: Record<string, unknown>, description: string) => ({
  name,
  in: 'query',
  schema,
  description,
});
const metricValue = {
  description: 'a number; NaN and the infinities as "nan", "inf", "-inf"',
  oneOf: [{ type: 'number' }, { enum: ['nan', 'inf', '-inf'] }],
};
const point = {
  type: 'object',
  properties: { step: { type: 'integer' }, value: metricValue, ts: { type: 'number' } },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'livestep server',
    version: '1',
    description:
      'Ingest (protocol v1 and DVC Studio api/live), queries, downsampled series whose buckets keep min, max, last and count, and a live stream. With a token, every request but /api/v1/health needs `Authorization: Bearer <token>`.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    schemas: {
      Batch: batchJsonSchema,
      Error: {
        type: 'object',
        properties: {
          error: { type: 'string', description: 'a stable code, e.g. invalid_batch' },
          message: { type: 'string', description: 'names the field and the fix' },
          issues: {
            type: 'array',
            items: {
              type: 'object',
              properties: { path: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
      },
      SeriesSummary: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          metric: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          count: { type: 'integer' },
          nanCount: { type: 'integer' },
          min: metricValue,
          max: metricValue,
          firstStep: { type: 'integer' },
          lastStep: { type: 'integer' },
          latest: { ...point, description: 'the value at the highest step' },
          lastLogged: { ...point, description: 'the value logged last' },
        },
      },
      Run: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          experiment: { type: 'string' },
          name: { type: 'string' },
          source: { enum: ['protocol', 'studio'] },
          state: { enum: ['running', 'stale', 'completed', 'failed', 'interrupted'] },
          createdAt: { type: 'number' },
          startedAt: { type: 'number' },
          endedAt: { type: 'number' },
          lastEventAt: { type: 'number' },
          message: { type: 'string' },
          tags: { type: 'array', items: { type: 'string' } },
          git: { type: 'object' },
          machine: { type: 'object' },
          params: { type: 'object' },
          summary: { type: 'object' },
          error: { type: 'object' },
          metrics: { type: 'object', additionalProperties: ref('SeriesSummary') },
        },
      },
      Bucket: {
        type: 'object',
        properties: {
          x: { type: 'number', description: "step (or time) of the bucket's last point" },
          firstStep: { type: 'integer' },
          lastStep: { type: 'integer' },
          firstTs: { type: 'number' },
          lastTs: { type: 'number' },
          count: { type: 'integer' },
          nanCount: { type: 'integer' },
          min: metricValue,
          max: metricValue,
          last: metricValue,
        },
      },
    },
  },
  security: [{ bearer: [] }, {}],
  paths: {
    '/api/v1/health': {
      get: { summary: 'Liveness', security: [], responses: { '200': json({ type: 'object' }) } },
    },
    '/api/v1/batches': {
      post: {
        summary: "Ingest a protocol v1 batch (what @livestep/core's HTTP sink sends)",
        description:
          'Idempotent by event id; answered after the commit. gzip or deflate bodies accepted. 413: body or batch too large (halve it). 429/503 with Retry-After: back off.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('Batch') } } },
        responses: {
          '200': json({
            type: 'object',
            properties: { stored: { type: 'integer' }, duplicates: { type: 'integer' } },
          }),
          ...errors,
          '413': json(ref('Error'), 'Body or batch too large'),
          '429': json(ref('Error'), 'Write queue full; Retry-After'),
          '503': json(ref('Error'), 'Too many bodies in flight, or closing; Retry-After'),
        },
      },
    },
    '/api/live': {
      post: {
        summary:
          'DVC Studio live protocol (start, data, done bodies), for DVCLive and dvc-studio-client',
        description:
          'Authorization: token <token>. 200 only on success. (baseline_sha, name) identifies the run.',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        responses: { '200': json({ type: 'object' }), ...errors, '413': json(ref('Error')) },
      },
    },
    '/api/v1/runs': {
      get: {
        summary: 'List runs',
        parameters: [
          query('experiment', { type: 'string' }, 'only this experiment'),
          query(
            'status',
            { type: 'string' },
            'running, stale, completed, failed, interrupted (comma-separated)',
          ),
          query('tag', { type: 'string' }, 'runs with every one of these tags (comma-separated)'),
          query('q', { type: 'string' }, 'text in the name, experiment, message, or the id'),
          query(
            'filter',
            { type: 'string' },
            'e.g. `params.lr > 0.01 and eval/acc >= 0.9 and max(train/loss) < 2`',
          ),
          query(
            'sort',
            { type: 'string' },
            'created (default, newest first), name, params.lr, eval/acc, -max(eval/acc); "-" = descending',
          ),
          query(
            'limit',
            { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
            'runs per page',
          ),
          query('cursor', { type: 'string' }, 'nextCursor of the previous page'),
          query(
            'metrics',
            { type: 'string' },
            'series whose summaries to include (comma-separated)',
          ),
        ],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              runs: { type: 'array', items: ref('Run') },
              nextCursor: { type: 'string' },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/latest': {
      get: {
        summary:
          'A runs table: the runs /api/v1/runs selects (same parameters), each with only the latest values of `metrics`',
        responses: {
          '200': json({
            type: 'object',
            properties: {
              runs: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    experiment: { type: 'string' },
                    name: { type: 'string' },
                    state: { type: 'string' },
                    startedAt: { type: 'number' },
                    latest: {
                      type: 'array',
                      description:
                        'per name in `metrics`: [step, value at the highest step, value logged last], or null',
                      items: { oneOf: [{ type: 'array' }, { type: 'null' }] },
                    },
                  },
                },
              },
              metrics: { type: 'array', items: { type: 'string' } },
              nextCursor: { type: 'string' },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}': {
      get: {
        summary: "One run, with every series' summary",
        parameters: [idParameter],
        responses: { '200': json({ type: 'object', properties: { run: ref('Run') } }), ...errors },
      },
    },
    '/api/v1/runs/{id}/metrics': {
      get: {
        summary: 'The series of a run',
        parameters: [idParameter],
        responses: {
          '200': json({
            type: 'object',
            properties: { metrics: { type: 'array', items: ref('SeriesSummary') } },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/metrics/latest': {
      get: {
        summary:
          "Latest value per series: by highest step (Dioptra's definition), and the last logged",
        parameters: [idParameter],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              latest: { type: 'array', items: point },
              lastLogged: { type: 'array', items: point },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/metrics/history': {
      get: {
        summary: 'Every point in step order, paged: the cursor never skips or repeats a point',
        parameters: [
          idParameter,
          nameParameter(),
          query(
            'limit',
            { type: 'integer', minimum: 1, maximum: 10_000, default: 1_000 },
            'points per page',
          ),
          query('cursor', { type: 'string' }, 'nextCursor of the previous page'),
        ],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              name: { type: 'string' },
              points: { type: 'array', items: point },
              nextCursor: { type: 'string' },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/metrics/series': {
      get: {
        summary:
          'A downsampled series: about `points` buckets, each with count, min, max and last, so no spike is hidden',
        parameters: [
          idParameter,
          nameParameter(),
          query(
            'points',
            { type: 'integer', minimum: 1, maximum: 10_000, default: 1_000 },
            'buckets wanted (at most)',
          ),
          query(
            'x',
            { enum: ['step', 'time', 'relative'], default: 'step' },
            'axis: step, epoch ms, or ms since the run started',
          ),
          query('from', { type: 'number' }, 'range start on the axis (inclusive), for zooming'),
          query('to', { type: 'number' }, 'range end on the axis (inclusive)'),
        ],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              name: { type: 'string' },
              x: { type: 'string' },
              bucketWidth: { type: 'number' },
              blockSize: {
                type: 'integer',
                description: 'summary block size the buckets were built from (0: raw points)',
              },
              buckets: { type: 'array', items: ref('Bucket') },
            },
          }),
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/metrics/export': {
      get: {
        summary: 'Every point of a series as CSV (step,value,timestamp) or JSON',
        parameters: [
          idParameter,
          nameParameter(),
          query('format', { enum: ['csv', 'json'], default: 'csv' }, 'file format'),
        ],
        responses: {
          '200': { description: 'the file', content: { 'text/csv': {}, 'application/json': {} } },
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/plots': {
      get: {
        summary: 'Plots as data (rows), e.g. confusion, roc, pr, calibration',
        parameters: [idParameter, { ...nameParameter('plot name'), required: false }],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/runs/{id}/images': {
      get: {
        summary: 'Images logged (name, step, mime, size)',
        parameters: [idParameter, { ...nameParameter('image name'), required: false }],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/runs/{id}/images/content': {
      get: {
        summary: "An image's bytes, with its content type (the latest step unless `step` is given)",
        parameters: [
          idParameter,
          nameParameter('image name'),
          query('step', { type: 'integer' }, 'the step'),
        ],
        responses: {
          '200': {
            description: 'the image',
            content: { 'image/png': {}, 'image/jpeg': {}, 'image/gif': {} },
          },
          ...errors,
        },
      },
    },
    '/api/v1/runs/{id}/annotations': {
      get: {
        summary: 'Annotations',
        parameters: [idParameter],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/runs/{id}/artifacts': {
      get: {
        summary: 'Artifact metadata',
        parameters: [idParameter],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/compare': {
      get: {
        summary:
          'Up to 100 runs and up to 20 metrics in one request: params, summaries, downsampled series',
        parameters: [
          query('runs', { type: 'string' }, 'run ids, comma-separated'),
          query('metrics', { type: 'string' }, 'metric names, comma-separated'),
          query('points', { type: 'integer', default: 200 }, 'buckets per series'),
          query('x', { enum: ['step', 'time', 'relative'] }, 'axis'),
        ],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/compare/params': {
      get: {
        summary: 'Params diff: flat keys, a value per run, and whether they differ',
        parameters: [
          query('runs', { type: 'string' }, 'run ids, comma-separated'),
          query('all', { enum: ['true', 'false'] }, 'include keys that do not differ'),
        ],
        responses: { '200': json({ type: 'object' }), ...errors },
      },
    },
    '/api/v1/stream': {
      get: {
        summary:
          'Live stream (Server-Sent Events) of every run: a `batch` frame per committed batch, `state` frames; resumable with Last-Event-ID',
        responses: {
          '200': { description: 'text/event-stream', content: { 'text/event-stream': {} } },
        },
      },
    },
    '/api/v1/runs/{id}/stream': {
      get: {
        summary: 'Live stream of one run',
        parameters: [idParameter],
        responses: {
          '200': { description: 'text/event-stream', content: { 'text/event-stream': {} } },
        },
      },
    },
  },
} as const;
