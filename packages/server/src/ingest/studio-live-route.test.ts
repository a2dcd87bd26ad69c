import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confusionMatrix, Run, rocCurve } from '@livestep/core';
import { createStudioSink } from '@livestep/studio';
import { describe, expect, it } from 'vitest';
import { getJson, postJson, startTestServer } from '../test-support/start-test-server.js';
import { deterministicUuid } from './deterministic-uuid.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const REPO = 'https://github.com/acme/iris.git';
const TOKEN = 'isat_studio_token_0123456789';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');

const common = { repo_url: REPO, baseline_sha: SHA, name: 'brave-otter', client: 'dvclive' };
const runIdOf = (name: string) => deterministicUuid(`livestep-studio-run:${SHA}:${name}`);

describe('POST /api/live (DVC Studio protocol)', () => {
  it('takes start, data (then its plots-only chunk) and done bodies as DVCLive posts them', async () => {
    const server = await startTestServer({ token: TOKEN });
    const live = (body: unknown) =>
      postJson(`${server.url}/api/live`, body, { authorization: `token ${TOKEN}` });
    expect(
      await live({
        ...common,
        type: 'start',
        message: 'first try',
        params: { 'dvclive/params.yaml': { lr: 0.1 } },
      }),
    ).toMatchObject({ status: 200 });
    for (let step = 0; step < 3; step++) {
      const summary = {
        ...common,
        type: 'data',
        step,
        params: { 'dvclive/params.yaml': { lr: 0.1 } },
        metrics: { 'dvclive/metrics.json': { data: { train: { loss: 1 / (step + 1) }, step } } },
      };
      expect((await live(summary)).status).toBe(200);
      const plots: Record<string, unknown> = {
        'dvclive/plots/metrics/train/loss.tsv': {
          data: [
            {
              step,
              timestamp: String(1_700_000_000_000 + step),
              loss: step === 1 ? 'nan' : 1 / (step + 1),
            },
          ],
        },
        'dvclive/plots/metrics/acc.tsv': {
          data: [{ step, timestamp: '2026-01-01T00:00:00Z', acc: step / 3 }],
        },
      };
      if (step === 2) {
        plots['dvclive/plots/images/sample.png'] = { image: PNG };
        plots['dvclive/plots/sklearn/roc.json'] = {
          data: [
            { fpr: 0, tpr: 0, threshold: 1 },
            { fpr: 1, tpr: 1, threshold: 0 },
          ],
          props: { template: 'simple', x: 'fpr', y: 'tpr' },
        };
        plots['dvclive/plots/sklearn/confusion_matrix.json'] = {
          data: [
            { actual: 'a', predicted: 'a' },
            { actual: 'a', predicted: 'b' },
            { actual: 'a', predicted: 'a' },
          ],
          props: { template: 'confusion' },
        };
      }
      expect((await live({ ...common, type: 'data', step, plots })).status).toBe(200);
    }
    expect((await live({ ...common, type: 'done' })).status).toBe(200);

    const id = runIdOf('brave-otter');
    const { body } = await getJson(`${server.url}/api/v1/runs/${id}`, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(body.run).toMatchObject({
      experiment: 'iris',
      name: 'brave-otter',
      source: 'studio',
      state: 'completed',
      message: 'first try',
      params: { lr: 0.1 },
      git: { sha: SHA, repoUrl: REPO },
      summary: { train: { loss: 1 / 3 }, step: 2 },
    });
    const loss = await server.store.history(id, 'train/loss', { limit: 10 });
    expect(loss.items.map((point) => [point.step, point.value])).toEqual([
      [0, 1],
      [1, Number.NaN],
      [2, 1 / 3],
    ]);
    expect(loss.items[0]!.ts).toBe(1_700_000_000_000);
    const plots = await server.store.listPlots(id);
    expect(plots.map((plot) => [plot.name, plot.plotKind])).toEqual([
      ['confusion_matrix', 'confusion'],
      ['roc', 'roc'],
    ]);
    expect(plots[0]!.rows).toEqual([
      { actual: 'a', predicted: 'a', count: 2 },
      { actual: 'a', predicted: 'b', count: 1 },
    ]);
    expect(await server.store.listImages(id)).toEqual([
      expect.objectContaining({ name: 'sample.png', step: 2, mime: 'image/png' }),
    ]);
  });

  it('stores a re-sent body once (the client re-sends what it saw no 200 for)', async () => {
    const server = await startTestServer();
    const body = {
      ...common,
      type: 'data',
      step: 5,
      plots: {
        'dvclive/plots/metrics/loss.tsv': { data: [{ step: 5, timestamp: '1', loss: 0.5 }] },
      },
    };
    expect((await postJson(`${server.url}/api/live`, body)).status).toBe(200);
    const again = await postJson(`${server.url}/api/live`, body);
    expect(again).toMatchObject({ status: 200, body: { stored: 0, duplicates: 1 } });
    expect((await server.store.counts()).points).toBe(1);
  });

  it('marks a run that ends with errors as failed, or interrupted', async () => {
    const server = await startTestServer();
    await postJson(`${server.url}/api/live`, { ...common, name: 'a', type: 'start' });
    await postJson(`${server.url}/api/live`, {
      ...common,
      name: 'a',
      type: 'done',
      errors: [{ cls: 'ValueError', text: 'bad input' }],
    });
    await postJson(`${server.url}/api/live`, { ...common, name: 'b', type: 'start' });
    await postJson(`${server.url}/api/live`, {
      ...common,
      name: 'b',
      type: 'done',
      errors: [{ cls: 'KeyboardInterrupt', text: '' }],
    });
    expect(await server.store.getRun(runIdOf('a'))).toMatchObject({
      state: 'failed',
      error: { name: 'ValueError', message: 'bad input' },
    });
    expect((await server.store.getRun(runIdOf('b')))!.state).toBe('interrupted');
  });

  it('refuses bad bodies with a 400 naming the field, and a wrong token with 401', async () => {
    const server = await startTestServer({ token: TOKEN });
    const auth = { authorization: `token ${TOKEN}` };
    const cases: Array<[unknown, string]> = [
      [{ ...common, type: 'data' }, 'step'],
      [{ ...common, type: 'start', extra: 1 }, 'extra: is not allowed'],
      [{ ...common, type: 'data', step: 1, baseline_sha: 'xyz' }, 'baseline_sha'],
      [
        { ...common, type: 'data', step: 1, plots: { '../../x.tsv': { data: [] } } },
        'plots["../../x.tsv"]',
      ],
      [
        {
          ...common,
          type: 'data',
          step: 1,
          plots: {
            'dvclive/plots/metrics/loss.tsv': { data: [{ step: 1, timestamp: '1', loss: 'high' }] },
          },
        },
        '.loss',
      ],
      [
        {
          ...common,
          type: 'data',
          step: 1,
          plots: { 'dvclive/plots/images/x.png': { image: 'bm90IGFuIGltYWdl' } },
        },
        'PNG, JPEG or GIF',
      ],
      [{ ...common, type: 'data', step: -1 }, 'step: must be 0 or more'],
      [{ ...common, type: 'data', step: 1e300 }, 'at most 2^53 - 1'],
    ];
    for (const [body, message] of cases) {
      const answer = await postJson(`${server.url}/api/live`, body, auth);
      expect(answer.status, message).toBe(400);
      expect(String(answer.body.message), message).toContain(message);
    }
    const nan = await postJson(`${server.url}/api/live`, '{"type": "data", "step": NaN}', auth);
    expect(nan.status).toBe(400);
    expect(nan.body.message).toContain('NaN, which JSON cannot carry');
    const wrong = await postJson(
      `${server.url}/api/live`,
      { ...common, type: 'start' },
      { authorization: 'token nope' },
    );
    expect(wrong.status).toBe(401);
    expect((await server.store.counts()).runs).toBe(0);
  });

  it("receives a whole run from @livestep/studio's sink, a client that speaks Studio's protocol", async () => {
    const server = await startTestServer({ token: TOKEN });
    const run = new Run({
      experiment: 'iris',
      name: 'studio-sink',
      exitHooks: false,
      collectGit: false,
      sinks: [
        createStudioSink({
          token: TOKEN,
          url: server.url,
          repoUrl: REPO,
          baselineSha: SHA,
          experimentName: 'studio-sink',
          directory: 'livestep',
          workingDirectory: mkdtempSync(join(tmpdir(), 'livestep-studio-')),
          environment: {},
          postIntervalMs: 0,
          onWarning() {},
        }),
      ],
    });
    run.logParams({ lr: 0.05 });
    for (let step = 0; step < 20; step++) {
      run.logMetric('train/loss', 1 / (step + 1));
      run.nextStep();
    }
    run.logPlot('roc', rocCurve([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]));
    run.logPlot('confusion', confusionMatrix(['a', 'b', 'a'], ['a', 'b', 'b']));
    const report = await run.end('completed');
    expect(report.ok).toBe(true);
    const id = runIdOf('studio-sink');
    expect(await server.store.getRun(id)).toMatchObject({
      state: 'completed',
      params: { lr: 0.05 },
      source: 'studio',
    });
    const history = await server.store.history(id, 'train/loss', { limit: 100 });
    expect(history.items.map((point) => point.step)).toEqual(
      Array.from({ length: 20 }, (_, step) => step),
    );
    expect((await server.store.listPlots(id)).map((plot) => plot.plotKind).sort()).toEqual([
      'confusion',
      'roc',
    ]);
  });
});
