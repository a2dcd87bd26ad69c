// Each example streams to a real `livestep serve` (a child process on a free port, its own data
// folder, 127.0.0.1) while its directory sink writes the run folder: what the query API returns
// must equal what the folder holds. Every point of every series (the full history paged by
// cursor, several page sizes, so paging neither skips nor repeats), the latest values against
// metrics.json, params against params.yaml, each plot file against the server's plot data (and
// its dvc.yaml properties), images, and the run's final state. tfjs-fit also shows the run live:
// points are on the server before the example exits.

import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricValue, PlotEvent } from '@livestep/core';
import { dvclivePlotFile, nestMetrics } from '@livestep/core/sink-kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  cleanEnvironment,
  filesUnder,
  getBytes,
  getJson,
  killAll,
  pollWhile,
  readHistory,
  readJson,
  readTsvSeries,
  startChild,
  startServer,
} from './support/live-server.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
/** The examples take seconds; a process alive after this has hung. */
const EXAMPLE_DEADLINE_MS = 120_000;
/** Page sizes for the history: one point a page, a prime that leaves a ragged last page, the default. */
const PAGE_SIZES = [1, 7, 1_000];
/** tfjs-fit's epochs: enough that training outlasts a few of the sink's 250 ms flushes. */
const TFJS_EPOCHS = 60;

const folders: string[] = [];
function temporaryFolder(prefix: string): string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

afterEach(async () => {
  await killAll();
});
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface ServerRun {
  id: string;
  experiment: string;
  name: string;
  state: string;
}

async function runsOn(url: string): Promise<ServerRun[]> {
  return (await getJson(url, '/api/v1/runs?limit=100')).runs;
}

/** The plot event the server's record stands for (so core places and shapes it as the sink did). */
function plotEventOf(record: Record<string, unknown>): PlotEvent {
  const { ts, plotKind, ...rest } = record as { ts: number; plotKind: PlotEvent['plotKind'] };
  return {
    id: '00000000-0000-4000-8000-000000000000',
    seq: 0,
    kind: 'plot',
    ts,
    plotKind,
    ...rest,
  } as unknown as PlotEvent;
}

/**
 * The whole comparison of one run: the server's run `runId` against the run folder `runFolder`
 * (and its dvc.yaml at `dvcYamlPath`, whose paths are relative to its own folder).
 */
async function expectServerEqualsFolder(
  url: string,
  runId: string,
  runFolder: string,
  dvcYamlPath: string,
): Promise<void> {
  const { run } = await getJson(url, `/api/v1/runs/${runId}`);
  expect(run.state).toBe('completed');
  const identity = await readJson(join(runFolder, 'livestep.json'));
  expect(identity.run).toEqual({ id: run.id, experiment: run.experiment, name: run.name });
  expect(identity.status).toBe('completed');

  // Every point of every series.
  const tsv = await readTsvSeries(runFolder);
  const seriesNames = run.metrics.map((series: { name: string }) => series.name).sort();
  expect(seriesNames).toEqual([...tsv.keys()].sort());
  expect(seriesNames.length).toBeGreaterThan(0);
  for (const name of seriesNames) {
    const rows = tsv.get(name)!;
    const summary = run.metrics.find((series: { name: string }) => series.name === name);
    expect(summary.count, name).toBe(rows.length);
    for (const limit of PAGE_SIZES) {
      const { points, pages } = await readHistory(url, runId, name, limit);
      expect(pages, `${name}, ${limit} a page`).toBeGreaterThanOrEqual(
        Math.ceil(rows.length / limit),
      );
      // The TSV keeps whole milliseconds; the server the event's ts as it came.
      expect(
        points.map((point) => ({ ...point, ts: Math.round(point.ts) })),
        `${name}, ${limit} a page`,
      ).toEqual(rows);
    }
  }

  // The latest values against metrics.json: nested by `/` as the sink nests them, from the
  // values the server says were logged last, and the step of the one logged last of all.
  const metricsJson = await readJson(join(runFolder, 'metrics.json'));
  const { latest, lastLogged } = await getJson(url, `/api/v1/runs/${runId}/metrics/latest`);
  // Every series of these examples steps forward, so the latest (highest step) is the last logged.
  expect(latest).toEqual(lastLogged);
  const lastValues: Array<[string, MetricValue]> = lastLogged.map(
    (entry: { name: string; value: MetricValue }) => [entry.name, entry.value],
  );
  const { step, ...nested } = metricsJson;
  expect(nested).toEqual(JSON.parse(JSON.stringify(nestMetrics(lastValues))));
  const newest = Math.max(...lastLogged.map((entry: { ts: number }) => entry.ts));
  expect(
    lastLogged
      .filter((entry: { ts: number }) => entry.ts === newest)
      .map((entry: { step: number }) => entry.step),
  ).toContain(step);

  // Params.
  const params = YAML.parse(await readFile(join(runFolder, 'params.yaml'), 'utf8'));
  expect(run.params).toEqual(params);

  // Plots: each file the folder has is the server's latest plot of that name, shaped by core as
  // DVCLive writes it; the dvc.yaml properties follow from the server's record too.
  const { plots } = await getJson(url, `/api/v1/runs/${runId}/plots`);
  const latestPlot = new Map<string, Record<string, unknown>>();
  for (const plot of plots) latestPlot.set(plot.name, plot);
  const plotFiles = (await filesUnder(runFolder)).filter(
    (file) =>
      file.startsWith('plots/') &&
      !file.startsWith('plots/metrics/') &&
      !file.startsWith('plots/images/'),
  );
  const fromServer = new Map(
    [...latestPlot.values()].map((record) => {
      const file = dvclivePlotFile(plotEventOf(record));
      return [file.path, file] as const;
    }),
  );
  expect([...fromServer.keys()].sort()).toEqual(plotFiles);
  const dvcYaml = YAML.parse(await readFile(dvcYamlPath, 'utf8'));
  const dvcYamlFolder = join(dvcYamlPath, '..');
  const properties = new Map<string, unknown>();
  for (const entry of dvcYaml.plots ?? []) {
    if (typeof entry === 'string') properties.set(join(dvcYamlFolder, entry), {});
    else
      for (const [path, value] of Object.entries(entry))
        properties.set(join(dvcYamlFolder, path), value);
  }
  for (const [path, file] of fromServer) {
    expect(await readJson(join(runFolder, path)), path).toEqual(
      JSON.parse(JSON.stringify(file.content)),
    );
    expect(properties.get(join(runFolder, path)), path).toEqual(file.properties);
  }

  // Images: the bytes and content type of each, where the folder has one.
  const { images } = await getJson(url, `/api/v1/runs/${runId}/images`);
  const imageFiles = (await filesUnder(join(runFolder, 'plots', 'images'))).sort();
  expect(images.map((image: { name: string }) => image.name).sort()).toEqual(imageFiles);
  for (const image of images) {
    const query = new URLSearchParams({ name: image.name, step: String(image.step) });
    const served = await getBytes(url, `/api/v1/runs/${runId}/images/content?${query}`);
    expect(served.contentType).toBe(image.mime);
    expect(
      served.bytes.equals(await readFile(join(runFolder, 'plots', 'images', image.name))),
    ).toBe(true);
  }
}

describe('the examples streaming to a real livestep serve', () => {
  it('tfjs-fit: live while it trains, and the server holds what the run folder holds', async () => {
    const folder = temporaryFolder('livestep-e2e-tfjs-server-');
    const server = await startServer(join(folder, 'server'));
    const runFolder = join(folder, 'run');
    const example = startChild(['src/main.mjs'], {
      cwd: join(examples, 'tfjs-fit'),
      env: cleanEnvironment({
        LIVESTEP_URL: server.url,
        LIVESTEP_DIR: runFolder,
        LIVESTEP_MODEL_PATH: join(folder, 'model', 'iris-classifier.json'),
        EPOCHS: String(TFJS_EPOCHS),
      }),
      deadlineMs: EXAMPLE_DEADLINE_MS,
    });

    // Live: while the example is still training, the server already has its points.
    const live = await pollWhile(
      async () => {
        const [run] = await runsOn(server.url);
        if (run === undefined) return undefined;
        const { points } = await getJson(
          server.url,
          `/api/v1/runs/${run.id}/metrics/history?name=train/loss`,
        );
        return points.length > 0 ? { state: run.state, points: points.length } : undefined;
      },
      { until: () => example.child.exitCode !== null, timeoutMs: EXAMPLE_DEADLINE_MS },
    );
    const stillRunning = example.child.exitCode === null;
    expect(await example.exited, example.output()).toBe(0);
    expect(live, 'points on the server before the example exited').toBeDefined();
    expect(stillRunning).toBe(true);
    expect(live!.state).toBe('running');
    expect(live!.points).toBeLessThan(TFJS_EPOCHS);

    const runs = await runsOn(server.url);
    expect(runs).toHaveLength(1);
    await expectServerEqualsFolder(server.url, runs[0]!.id, runFolder, join(folder, 'dvc.yaml'));
    const { artifacts } = await getJson(server.url, `/api/v1/runs/${runs[0]!.id}/artifacts`);
    expect(artifacts.map((artifact: { name: string }) => artifact.name)).toEqual([
      'iris-classifier',
    ]);
    expect(await server.stop()).toBe(0);
  });

  // The loop is synchronous (`for ... of` over track(): the event loop never turns while it
  // trains), so the HTTP sink can post only once the loop is over; "live" is not observable here.
  it('custom-loop: the server holds what the run folder holds', async () => {
    const folder = temporaryFolder('livestep-e2e-custom-server-');
    const server = await startServer(join(folder, 'server'));
    const runFolder = join(folder, 'livestep');
    const example = startChild(['src/train.mjs'], {
      cwd: join(examples, 'custom-loop'),
      env: cleanEnvironment({ LIVESTEP_URL: server.url, LIVESTEP_DIR: runFolder }),
      deadlineMs: EXAMPLE_DEADLINE_MS,
    });
    expect(await example.exited, example.output()).toBe(0);
    const runs = await runsOn(server.url);
    expect(runs).toHaveLength(1);
    await expectServerEqualsFolder(server.url, runs[0]!.id, runFolder, join(folder, 'dvc.yaml'));
    expect(await server.stop()).toBe(0);
  });

  // Each evaluation is 6 batches of 5 flowers (milliseconds), so "live" is not observable here.
  it('onnx-eval: both runs reach the server, which holds what each run folder holds', async () => {
    const folder = temporaryFolder('livestep-e2e-onnx-server-');
    const server = await startServer(join(folder, 'server'));
    const output = join(folder, 'runs');
    const example = startChild(['src/main.mjs'], {
      cwd: join(examples, 'onnx-eval'),
      env: cleanEnvironment({ LIVESTEP_URL: server.url, LIVESTEP_DIR: output }),
      deadlineMs: EXAMPLE_DEADLINE_MS,
    });
    expect(await example.exited, example.output()).toBe(0);
    const runs = await runsOn(server.url);
    expect(runs.map((run) => run.name).sort()).toEqual(['mlp', 'weak']);
    for (const run of runs) {
      const runFolder = join(output, run.name);
      await expectServerEqualsFolder(server.url, run.id, runFolder, join(runFolder, 'dvc.yaml'));
    }
    expect(await server.stop()).toBe(0);
  });
});
