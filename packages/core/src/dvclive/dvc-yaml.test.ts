import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { Run } from '../run/run.js';
import { createDirectorySink } from '../sinks/directory-sink.js';
import { mergeDvcYaml } from './dvc-yaml.js';

const noEntries = { metrics: [], params: [], plots: [], artifacts: new Map() };
const inRunFolder = (path: string) => path === 'livestep' || path.startsWith('livestep/');

describe('dvc.yaml merge', () => {
  it("keeps the user's comments, key order and flow style", () => {
    const existing = `# Pipeline of the iris project
stages:
  train:
    cmd: node train.mjs   # the training script
    deps: [train.mjs, data/iris.csv]
metrics:
  - other/metrics.json # kept
plots:
  - other/plot.json
`;
    const text = mergeDvcYaml(
      existing,
      {
        ...noEntries,
        metrics: ['livestep/metrics.json'],
        plots: [{ 'livestep/plots/metrics': { x: 'step' } }],
      },
      { isRunPath: inRunFolder, keepEarlierRunEntries: false },
    );
    expect(text).toContain('# Pipeline of the iris project\n');
    expect(text).toContain('cmd: node train.mjs # the training script');
    expect(text).toContain('deps: [ train.mjs, data/iris.csv ]');
    expect(text).toContain('- other/metrics.json # kept');
    expect(text.indexOf('stages:')).toBeLessThan(text.indexOf('metrics:'));
    expect(YAML.parse(text)).toEqual({
      stages: { train: { cmd: 'node train.mjs', deps: ['train.mjs', 'data/iris.csv'] } },
      metrics: ['other/metrics.json', 'livestep/metrics.json'],
      plots: ['other/plot.json', { 'livestep/plots/metrics': { x: 'step' } }],
    });
  });

  it('returns the text unchanged when the entries are already there', () => {
    const entries = { ...noEntries, metrics: ['livestep/metrics.json'] };
    const options = { isRunPath: inRunFolder, keepEarlierRunEntries: false };
    const once = mergeDvcYaml('# mine\nmetrics: [livestep/metrics.json]\n', entries, options);
    expect(mergeDvcYaml(once, entries, options)).toBe(once);
  });

  it('refuses to rewrite a file that is not valid YAML, saying why', () => {
    expect(() =>
      mergeDvcYaml(
        'stages: [unclosed\n',
        { ...noEntries, metrics: ['livestep/metrics.json'] },
        {
          isRunPath: inRunFolder,
          keepEarlierRunEntries: false,
        },
      ),
    ).toThrow(/dvc\.yaml is not valid YAML/);
  });

  it('lists a per-run dvc.yaml inside the run folder once, however many runs wrote it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'livestep-dvcyaml-'));
    const directory = join(root, 'd');
    for (let attempt = 0; attempt < 3; attempt++) {
      const run = new Run({
        exitHooks: false,
        collectGit: false,
        params: { attempt },
        sinks: [createDirectorySink({ directory, dvcYaml: join(directory, 'dvc.yaml') })],
      });
      run.logMetric('loss', 1);
      await run.flush();
      run.logParams({ more: attempt });
      await run.end();
    }
    expect(YAML.parse(readFileSync(join(directory, 'dvc.yaml'), 'utf8'))).toEqual({
      metrics: ['metrics.json'],
      params: ['params.yaml'],
      plots: [{ 'plots/metrics': { x: 'step' } }],
    });
  });

  it('leaves an unreadable dvc.yaml as it is, warns once, and still writes the run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'livestep-dvcyaml-'));
    const broken = 'stages: [unclosed\n';
    writeFileSync(join(root, 'dvc.yaml'), broken);
    const warnings: string[] = [];
    const run = new Run({
      exitHooks: false,
      collectGit: false,
      sinks: [
        createDirectorySink({
          directory: join(root, 'livestep'),
          onWarning: (message) => warnings.push(message),
        }),
      ],
    });
    run.logMetric('loss', 1);
    await run.flush();
    run.logMetric('loss', 2);
    const report = await run.end();
    expect(report.ok).toBe(true);
    expect(readFileSync(join(root, 'dvc.yaml'), 'utf8')).toBe(broken);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/dvc\.yaml was left unchanged: dvc\.yaml is not valid YAML/);
    expect(JSON.parse(readFileSync(join(root, 'livestep', 'metrics.json'), 'utf8'))).toEqual({
      loss: 2,
      step: 0,
    });
  });
});
