import { describe, expect, it } from 'vitest';
import type { MetricEvent, StartEvent } from '../../protocol/events.js';
import {
  type Cut,
  flattenParams,
  MLFLOW_LIMITS,
  metricEntity,
  metricKey,
  mlflowKey,
  mlflowMetricValue,
  runTags,
  tagEntity,
} from './mlflow-entities.js';

const ID = '8d0c1f2a-3b4c-8d5e-9f60-000000000001';

describe('MLflow entities', () => {
  it('flattens nested params with dots, strings as they are and everything else as JSON', () => {
    expect(
      flattenParams({
        optimizer: { name: 'adam', lr: 0.001, betas: [0.9, 0.999], schedule: { warmup: 5 } },
        epochs: 10,
        shuffle: true,
        note: null,
        empty: {},
        label: 'iris',
      }),
    ).toEqual([
      ['optimizer.name', 'adam'],
      ['optimizer.lr', '0.001'],
      ['optimizer.betas', '[0.9,0.999]'],
      ['optimizer.schedule.warmup', '5'],
      ['epochs', '10'],
      ['shuffle', 'true'],
      ['note', 'null'],
      ['empty', '{}'],
      ['label', 'iris'],
    ]);
  });

  it('sends NaN and ±inf as the proto JSON strings MLflow parses, finite numbers as they are', () => {
    expect(mlflowMetricValue('nan')).toBe('NaN');
    expect(mlflowMetricValue('inf')).toBe('Infinity');
    expect(mlflowMetricValue('-inf')).toBe('-Infinity');
    expect(mlflowMetricValue(Number.NaN)).toBe('NaN');
    expect(mlflowMetricValue(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(mlflowMetricValue(-0.25)).toBe(-0.25);
    // The whole body stays JSON (no bare NaN token).
    expect(JSON.parse(JSON.stringify({ value: mlflowMetricValue('inf') }))).toEqual({
      value: 'Infinity',
    });
  });

  it('makes keys MLflow accepts: labels as in DVCLive, refused characters as _, cut to 250', () => {
    expect(metricKey('train/loss')).toBe('train/loss');
    expect(metricKey('val/precision', { class: 'setosa' })).toBe('val/precision/class_setosa');
    expect(mlflowKey('acc@top:5 (val)')).toBe('acc_top_5 _val_');
    for (const key of [metricKey('a/b', { 'x y': 'z?' }), mlflowKey('ünï/cödé')]) {
      expect(key).toMatch(/^[/\w.\- ]*$/);
    }
    const cuts: Cut[] = [];
    const long = mlflowKey('k'.repeat(300), MLFLOW_LIMITS, (cut) => cuts.push(cut));
    expect(long).toHaveLength(250);
    expect(cuts).toEqual([{ what: 'key', key: 'k'.repeat(300), length: 300, limit: 250 }]);
  });

  it('keeps the timestamp (integer ms) and the step of a metric', () => {
    const event: MetricEvent = {
      id: ID,
      seq: 3,
      ts: 1_700_000_000_123.6,
      kind: 'metric',
      name: 'loss',
      value: 0.5,
      step: 7,
    };
    expect(metricEntity(event)).toEqual({
      key: 'loss',
      value: 0.5,
      timestamp: 1_700_000_000_124,
      step: 7,
    });
  });

  it('cuts a tag value to 5000 characters and says so', () => {
    const cuts: Cut[] = [];
    const tag = tagEntity('note', 'x'.repeat(6000), MLFLOW_LIMITS, (cut) => cuts.push(cut));
    expect(tag.value).toHaveLength(5000);
    expect(cuts[0]).toMatchObject({ what: 'tag value', limit: 5000, length: 6000 });
  });

  it("names the run's tags as MLflow's clients do", () => {
    const start: StartEvent = {
      id: ID,
      seq: 0,
      ts: 1,
      kind: 'start',
      experiment: 'iris',
      name: 'bright-owl',
      git: { sha: 'abc123', branch: 'main', repoUrl: 'https://github.com/x/y.git', dirty: false },
      message: 'first try',
      tags: ['baseline'],
    };
    const tags = Object.fromEntries(
      runTags({ id: ID, name: 'bright-owl' }, start, '/work/train.mjs').map((tag) => [
        tag.key,
        tag.value,
      ]),
    );
    expect(tags).toEqual({
      'mlflow.runName': 'bright-owl',
      'mlflow.source.type': 'LOCAL',
      'mlflow.source.name': '/work/train.mjs',
      'mlflow.source.git.commit': 'abc123',
      'mlflow.source.git.branch': 'main',
      'mlflow.source.git.repoURL': 'https://github.com/x/y.git',
      'mlflow.note.content': 'first try',
      'livestep.run_id': ID,
      'mlflow.source.git.dirty': 'false',
      'livestep.tag.baseline': 'true',
    });
  });
});
