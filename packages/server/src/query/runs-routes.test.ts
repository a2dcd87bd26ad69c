import { describe, expect, it } from 'vitest';
import type { LivestepServer } from '../create-server.js';
import { TestRun } from '../test-support/make-events.js';
import { getJson, startTestServer } from '../test-support/start-test-server.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex');

async function seeded(): Promise<{ server: LivestepServer; runs: TestRun[] }> {
  const server = await startTestServer();
  const runs: TestRun[] = [];
  for (let index = 0; index < 5; index++) {
    const run = new TestRun('iris', `run-${index}`);
    runs.push(run);
    const events = [
      run.start({ tags: index % 2 ? ['odd'] : [], machine: { hostname: 'box' } }),
      run.params({ lr: index / 100, optimizer: { name: index < 3 ? 'adam' : 'sgd' } }),
    ];
    for (let step = 0; step < 2_500; step++) {
      events.push(run.metric('train/loss', step === 1_234 ? 99 : 1 / (step + 1 + index), step));
      if (step % 100 === 0)
        events.push(run.metric('eval/acc', step === 0 ? 'nan' : index / 5 + step / 1e5, step));
    }
    events.push(
      run.event('plot', {
        name: 'roc',
        plotKind: 'roc',
        rows: [
          { fpr: 0, tpr: 0, threshold: 1 },
          { fpr: 1, tpr: 1, threshold: 0 },
        ],
      }),
      run.event('image', {
        name: 'samples/digit.png',
        step: 3,
        mime: 'image/png',
        bytes: PNG.toString('base64'),
      }),
      run.event('annotation', { text: 'checkpoint', level: 'info', step: 1_000 }),
      run.event('artifact', {
        name: 'model',
        type: 'model',
        path: 'model.json',
        size: 10,
        sha256: 'a'.repeat(64),
      }),
    );
    if (index !== 4) events.push(run.done('completed'));
    await server.store.ingest([run.ingest(events)]);
  }
  return { server, runs };
}

describe('query API', () => {
  it('lists runs with filters on params and metrics, sorts, and pages by cursor', async () => {
    const { server } = await seeded();
    const all = await getJson(`${server.url}/api/v1/runs`);
    expect(all.status).toBe(200);
    expect(all.body.runs.map((run: { name: string }) => run.name)).toEqual([
      'run-4',
      'run-3',
      'run-2',
      'run-1',
      'run-0',
    ]);
    const filter = encodeURIComponent('params.lr > 0.01 and eval/acc >= 0.6');
    const filtered = await getJson(
      `${server.url}/api/v1/runs?filter=${filter}&sort=-max(eval/acc)&metrics=eval/acc`,
    );
    expect(filtered.body.runs.map((run: { name: string }) => run.name)).toEqual(['run-4', 'run-3']);
    expect(filtered.body.runs[0].metrics['eval/acc']).toMatchObject({ count: 25, nanCount: 1 });
    const adam = await getJson(
      `${server.url}/api/v1/runs?filter=${encodeURIComponent('params.optimizer.name = adam')}&status=completed&tag=odd`,
    );
    expect(adam.body.runs.map((run: { name: string }) => run.name)).toEqual(['run-1']);
    const running = await getJson(`${server.url}/api/v1/runs?status=running`);
    expect(running.body.runs.map((run: { name: string }) => run.name)).toEqual(['run-4']);
    const table = await getJson(
      `${server.url}/api/v1/runs/latest?metrics=eval/acc,train/loss&limit=3`,
    );
    expect(table.body.runs).toHaveLength(3);
    expect(table.body.metrics).toEqual(['eval/acc', 'train/loss']);
    expect(table.body.runs[0]).toEqual({
      id: expect.any(String),
      experiment: 'iris',
      name: 'run-4',
      state: 'running',
      startedAt: expect.any(Number),
      latest: [
        [2_400, 0.8 + 2_400 / 1e5, 0.8 + 2_400 / 1e5],
        [2_499, 1 / 2_504, 1 / 2_504],
      ],
    });
    const rest = await getJson(
      `${server.url}/api/v1/runs/latest?metrics=eval/acc&limit=3&cursor=${table.body.nextCursor}`,
    );
    expect(rest.body.runs.map((run: { name: string }) => run.name)).toEqual(['run-1', 'run-0']);
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await getJson(
        `${server.url}/api/v1/runs?limit=2&sort=params.lr${cursor ? `&cursor=${cursor}` : ''}`,
      );
      names.push(...page.body.runs.map((run: { name: string }) => run.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(names).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4']);
  });

  it('writes NaN and the infinities of a runs table as "nan", "inf", "-inf"', async () => {
    const server = await startTestServer();
    const run = new TestRun('special', 'values');
    await server.store.ingest([
      run.ingest([
        run.metric('loss', 'inf', 5),
        run.metric('loss', 'nan', 9),
        run.metric('loss', '-inf', 2),
      ]),
    ]);
    const table = await getJson(`${server.url}/api/v1/runs/latest?metrics=loss,missing`);
    expect(table.body.runs[0].latest).toEqual([[9, 'nan', '-inf'], null]);
  });

  it('writes a runs table larger than its first buffer, names in any script intact', async () => {
    const server = await startTestServer();
    const runs = Array.from(
      { length: 1_500 },
      (_, index) => new TestRun('tablé', `run "ünï" ✓ 🚀 ${index} ${'x'.repeat(150)}`),
    );
    await server.store.ingest(
      runs.map((run, index) => run.ingest([run.start(), run.metric('loss', index / 7, index)])),
    );
    const table = await getJson(`${server.url}/api/v1/runs/latest?metrics=loss&limit=10000`);
    expect(table.body.runs).toHaveLength(1_500);
    expect(table.body.nextCursor).toBeUndefined();
    const byName = new Map(
      table.body.runs.map((row: { name: string; latest: unknown }) => [row.name, row.latest]),
    );
    runs.forEach((run, index) => {
      expect(byName.get(run.identity.name)).toEqual([[index, index / 7, index / 7]]);
    });
  });

  it('answers bad parameters with a 400 naming them', async () => {
    const { server } = await seeded();
    const cases: Array<[string, string]> = [
      ['/api/v1/runs?limit=0', 'limit: must be between 1 and 10000'],
      ['/api/v1/runs?status=sleeping', 'status: must be one of'],
      ['/api/v1/runs?filter=params.lr', 'has no comparison'],
      ['/api/v1/runs?sort=../x', 'is not a params.<path>'],
      ['/api/v1/runs?cursor=xyz', 'cursor is not one this server gave out'],
      ['/api/v1/runs/not-a-uuid', 'id: must be a run id'],
      ['/api/v1/nothing', 'no such endpoint'],
    ];
    for (const [path, message] of cases) {
      const answer = await getJson(`${server.url}${path}`);
      expect(answer.status, path).toBeGreaterThanOrEqual(400);
      expect(answer.status, path).toBeLessThan(500);
      expect(answer.body.message, path).toContain(message);
    }
    const missing = await getJson(`${server.url}/api/v1/runs/${crypto.randomUUID()}`);
    expect(missing.status).toBe(404);
  });

  it("shows one run with params, machine, state and every series' summary", async () => {
    const { server, runs } = await seeded();
    const answer = await getJson(`${server.url}/api/v1/runs/${runs[1]!.identity.id}`);
    expect(answer.body.run).toMatchObject({
      name: 'run-1',
      state: 'completed',
      params: { lr: 0.01, optimizer: { name: 'adam' } },
      machine: { hostname: 'box' },
      tags: ['odd'],
    });
    const loss = answer.body.run.metrics.find(
      (series: { name: string }) => series.name === 'train/loss',
    );
    expect(loss).toMatchObject({ count: 2_500, max: 99, latest: { step: 2_499 } });
    const acc = answer.body.run.metrics.find(
      (series: { name: string }) => series.name === 'eval/acc',
    );
    expect(acc.nanCount).toBe(1);
  });

  it('gives metric names, latest values, history pages, downsampled series and exports', async () => {
    const { server, runs } = await seeded();
    const base = `${server.url}/api/v1/runs/${runs[0]!.identity.id}`;
    const latest = await getJson(`${base}/metrics/latest`);
    expect(latest.body.latest).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'eval/acc', step: 2_400 })]),
    );
    const history = await getJson(`${base}/metrics/history?name=eval/acc&limit=10`);
    expect(history.body.points[0]).toMatchObject({ step: 0, value: 'nan' });
    expect(history.body.points).toHaveLength(10);
    const next = await getJson(
      `${base}/metrics/history?name=eval/acc&limit=100&cursor=${history.body.nextCursor}`,
    );
    expect(next.body.points[0].step).toBe(1_000);
    expect(next.body.points).toHaveLength(15);
    expect(next.body.nextCursor).toBeUndefined();

    const series = await getJson(`${base}/metrics/series?name=train/loss&points=100`);
    expect(series.body.buckets.length).toBeLessThanOrEqual(100);
    expect(
      series.body.buckets.reduce((sum: number, bucket: { count: number }) => sum + bucket.count, 0),
    ).toBe(2_500);
    expect(Math.max(...series.body.buckets.map((bucket: { max: number }) => bucket.max))).toBe(99);
    const zoom = await getJson(
      `${base}/metrics/series?name=train/loss&points=10&from=1200&to=1299`,
    );
    expect(zoom.body.buckets).toHaveLength(10);
    expect(zoom.body.buckets[3]).toMatchObject({
      firstStep: 1_230,
      lastStep: 1_239,
      max: 99,
      count: 10,
    });

    const csv = await fetch(`${base}/metrics/export?name=eval/acc&format=csv`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('step,value,timestamp');
    expect(lines[1]).toMatch(/^0,nan,\d{4}-/);
    expect(lines).toHaveLength(26);
    const exported = (await (
      await fetch(`${base}/metrics/export?name=train/loss&format=json`)
    ).json()) as unknown[];
    expect(exported).toHaveLength(2_500);
    expect(exported[1_234]).toMatchObject({ step: 1_234, value: 99 });
  });

  it('serves plots as data, images with their content type, annotations and artifacts', async () => {
    const { server, runs } = await seeded();
    const base = `${server.url}/api/v1/runs/${runs[0]!.identity.id}`;
    const plots = await getJson(`${base}/plots`);
    expect(plots.body.plots).toEqual([
      expect.objectContaining({
        name: 'roc',
        plotKind: 'roc',
        rows: expect.arrayContaining([{ fpr: 1, tpr: 1, threshold: 0 }]),
      }),
    ]);
    const images = await getJson(`${base}/images`);
    expect(images.body.images).toEqual([
      expect.objectContaining({ name: 'samples/digit.png', step: 3, size: PNG.length }),
    ]);
    const image = await fetch(`${base}/images/content?name=samples/digit.png`);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(PNG);
    const annotations = await getJson(`${base}/annotations`);
    expect(annotations.body.annotations).toEqual([
      expect.objectContaining({ text: 'checkpoint', step: 1_000 }),
    ]);
    const artifacts = await getJson(`${base}/artifacts`);
    expect(artifacts.body.artifacts).toEqual([
      expect.objectContaining({ name: 'model', size: 10 }),
    ]);
  });

  it('compares runs and diffs their params', async () => {
    const { server, runs } = await seeded();
    const ids = runs.map((run) => run.identity.id).join(',');
    const compared = await getJson(
      `${server.url}/api/v1/compare?runs=${ids}&metrics=train/loss,eval/acc&points=50`,
    );
    expect(compared.body.runs).toHaveLength(5);
    expect(compared.body.runs[2].metrics['train/loss'].buckets.length).toBeLessThanOrEqual(50);
    expect(compared.body.runs[2].metrics['eval/acc'].summary.count).toBe(25);
    const diff = await getJson(`${server.url}/api/v1/compare/params?runs=${ids}`);
    expect(diff.body.params).toEqual([
      { key: 'lr', values: [0, 0.01, 0.02, 0.03, 0.04], differs: true },
      { key: 'optimizer.name', values: ['adam', 'adam', 'adam', 'sgd', 'sgd'], differs: true },
    ]);
    const tooMany = await getJson(
      `${server.url}/api/v1/compare?runs=${Array(101).fill(runs[0]!.identity.id).join(',')}`,
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toContain('at most 100');
  });

  it('serves its OpenAPI document', async () => {
    const server = await startTestServer();
    const document = await getJson(`${server.url}/api/v1/openapi.json`);
    expect(document.body.openapi).toBe('3.1.0');
    expect(Object.keys(document.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/batches',
        '/api/live',
        '/api/v1/runs/{id}/metrics/series',
        '/api/v1/stream',
      ]),
    );
    expect(document.body.components.schemas.Batch.$id).toBe(
      'https://livestep.dev/schema/v1/batch.json',
    );
  });
});
