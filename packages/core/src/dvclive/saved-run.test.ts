import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Run } from '../run/run.js';
import { readSavedRun } from './saved-run.js';

function folderWith(files: Record<string, string>): string {
  const directory = join(mkdtempSync(join(tmpdir(), 'livestep-saved-')), 'livestep');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(directory, path, '..'), { recursive: true });
    writeFileSync(join(directory, path), text);
  }
  return directory;
}

function resume(directory: string, warnings: string[] = []): Run {
  return new Run({
    exitHooks: false,
    collectGit: false,
    resume: true,
    directory,
    onWarning: (message) => warnings.push(message),
  });
}

const rowsOf = (path: string) => readFileSync(path, 'utf8').split('\n').slice(1, -1);

describe('resuming a run folder', () => {
  it('resumes after the last step the TSVs hold, not the lagging metrics.json (no duplicated steps after kill -9)', async () => {
    // metrics.json is rewritten after the TSV rows: a kill between the two leaves it a batch behind.
    const directory = folderWith({
      'metrics.json': '{"train": {"loss": 0.5}, "step": 3}',
      'plots/metrics/train/loss.tsv': 'timestamp\tstep\tloss\n1\t3\t0.5\n2\t4\t0.4\n3\t5\t0.3\n',
      'plots/metrics/train/acc.tsv': 'timestamp\tstep\tacc\n1\t3\t0.7\n2\t4\t0.8\n',
    });
    const run = resume(directory);
    expect(run.step).toBe(6);
    run.logMetric('train/loss', 0.2);
    await run.end();
    const steps = rowsOf(join(directory, 'plots/metrics/train/loss.tsv')).map(
      (row) => row.split('\t')[1],
    );
    expect(steps).toEqual(['3', '4', '5', '6']);
    expect(JSON.parse(readFileSync(join(directory, 'metrics.json'), 'utf8'))).toEqual({
      train: { loss: 0.2, acc: 0.8 },
      step: 6,
    });
  });

  it('cuts a torn last row off before appending, says so, and never reads a torn cell as a number', async () => {
    const directory = folderWith({
      'plots/metrics/loss.tsv': 'timestamp\tstep\tloss\n1\t0\t0.5\n2\t1\t0.4\n3\t2\t',
      'plots/metrics/acc.tsv': 'timestamp\tstep\tacc\n1\t0\t0.5\n2\t1',
    });
    const saved = readSavedRun(directory);
    expect(saved.latestValues.get('loss')).toBe(0.4);
    expect(saved.latestValues.get('acc')).toBe(0.5);
    expect(saved.step).toBe(1);
    const warnings: string[] = [];
    const run = resume(directory, warnings);
    expect(run.step).toBe(2);
    run.logMetric('loss', 0.3);
    await run.end();
    expect(
      rowsOf(join(directory, 'plots/metrics/loss.tsv')).map((row) => row.split('\t').slice(1)),
    ).toEqual([
      ['0', '0.5'],
      ['1', '0.4'],
      ['2', '0.3'],
    ]);
    expect(
      warnings.filter((warning) => /row cut off when its writer was killed/.test(warning)),
    ).toHaveLength(2);
  });

  it('writes the header again when a killed writer left only part of it', async () => {
    const directory = folderWith({ 'plots/metrics/loss.tsv': 'timest' });
    const run = resume(directory);
    expect(run.step).toBe(0);
    run.logMetric('loss', 1);
    await run.end();
    expect(readFileSync(join(directory, 'plots/metrics/loss.tsv'), 'utf8')).toMatch(
      /^timestamp\tstep\tloss\n\d+\t0\t1\n$/,
    );
  });

  it('resumes from an empty metrics.json without crashing, and names the file when it is not JSON', () => {
    expect(resume(folderWith({ 'metrics.json': '' })).step).toBe(0);
    const broken = folderWith({ 'metrics.json': '{"step": 3' });
    expect(() => resume(broken)).toThrow(
      /cannot resume from .*metrics\.json: it is not valid JSON/,
    );
    // The refused run does not keep the folder: fixed, it resumes in the same process.
    writeFileSync(join(broken, 'metrics.json'), '{"step": 3}');
    expect(resume(broken).step).toBe(4);
  });

  it('resumes a run with 40,000 params (parsing is linear in the keys)', async () => {
    const params: Record<string, number> = {};
    for (let index = 0; index < 40_000; index++) params[`key_${index}`] = index;
    const directory = folderWith({ 'params.yaml': YAML.stringify(params) });
    const run = resume(directory);
    run.logParams({ more: 1 });
    await run.end();
    const written = YAML.parse(readFileSync(join(directory, 'params.yaml'), 'utf8'), {
      uniqueKeys: false,
    });
    expect(Object.keys(written)).toHaveLength(40_001);
  });
});
