import { describe, expect, it } from 'vitest';
import type { PlotEvent } from '../../protocol/events.js';
import { deriveFilesHost, deriveWebHost, resolveClearmlConfig } from './clearml-config.js';
import { clearmlSeries, hyperparams } from './clearml-events.js';
import { plotlyFigure } from './clearml-plots.js';
import { escapePythonRegex } from './clearml-task.js';

const plot = (overrides: Partial<PlotEvent>): PlotEvent => ({
  id: '00000000-0000-4000-8000-000000000000',
  seq: 0,
  ts: 1,
  kind: 'plot',
  name: 'eval/roc',
  plotKind: 'roc',
  rows: [],
  ...overrides,
});

describe('livestep names as ClearML metric and variant', () => {
  it('splits at the last slash: the chart, then the line', () => {
    expect(clearmlSeries('train/loss')).toEqual({ metric: 'train', variant: 'loss' });
    expect(clearmlSeries('eval/class/f1')).toEqual({ metric: 'eval/class', variant: 'f1' });
    expect(clearmlSeries('loss')).toEqual({ metric: 'loss', variant: 'loss' });
  });

  it('makes labels the variant of the whole name, in key order', () => {
    expect(clearmlSeries('eval/f1', { class: 'setosa', fold: '2' })).toEqual({
      metric: 'eval/f1',
      variant: 'class=setosa,fold=2',
    });
    expect(clearmlSeries('eval/f1', { fold: '2', class: 'setosa' }).variant).toBe(
      'class=setosa,fold=2',
    );
  });
});

describe('params as ClearML hyperparams', () => {
  it('puts nested params in section General, joined with /, with Python type names', () => {
    expect(
      hyperparams({
        lr: 0.01,
        epochs: 20,
        model: { units: [8, 3], act: 'relu' },
        shuffle: true,
        seed: null,
      }),
    ).toEqual([
      { section: 'General', name: 'lr', value: '0.01', type: 'float' },
      { section: 'General', name: 'epochs', value: '20', type: 'int' },
      { section: 'General', name: 'model/units', value: '[8,3]', type: 'list' },
      { section: 'General', name: 'model/act', value: 'relu', type: 'str' },
      { section: 'General', name: 'shuffle', value: 'true', type: 'bool' },
      { section: 'General', name: 'seed', value: 'null', type: 'NoneType' },
    ]);
  });
});

describe('plots as Plotly figures', () => {
  it('draws a confusion matrix as a heatmap with actual on y and predicted on x', () => {
    const figure = plotlyFigure(
      plot({
        name: 'eval/confusion',
        plotKind: 'confusion',
        rows: [
          { actual: 'a', predicted: 'a', count: 5 },
          { actual: 'a', predicted: 'b', count: 1 },
          { actual: 'b', predicted: 'b', count: 4 },
        ],
      }),
    );
    expect(figure.data).toEqual([
      {
        type: 'heatmap',
        x: ['a', 'b'],
        y: ['a', 'b'],
        z: [
          [5, 1],
          [0, 4],
        ],
        colorscale: 'Blues',
      },
    ]);
  });

  it('counts a row without a count as one sample (DVCLive writes samples)', () => {
    const figure = plotlyFigure(
      plot({
        plotKind: 'confusion',
        rows: [
          { actual: 'x', predicted: 'y' },
          { actual: 'x', predicted: 'y' },
        ],
      }),
    );
    expect(figure.data[0]?.z).toEqual([
      [0, 2],
      [0, 0],
    ]);
  });

  it('draws ROC as fpr against tpr with the chance line, PR as recall against precision', () => {
    const roc = plotlyFigure(
      plot({
        rows: [
          { fpr: 0, tpr: 0, threshold: 1 },
          { fpr: 0.5, tpr: 0.9, threshold: 0.5 },
        ],
      }),
    );
    expect(roc.data[0]).toMatchObject({ type: 'scatter', mode: 'lines', x: [0, 0.5], y: [0, 0.9] });
    expect(roc.data[1]).toMatchObject({ name: 'chance', x: [0, 1], y: [0, 1] });
    const pr = plotlyFigure(plot({ plotKind: 'pr', rows: [{ precision: 1, recall: 0.2 }] }));
    expect(pr.data[0]).toMatchObject({ x: [0.2], y: [1] });
  });

  it('keeps JSON valid: NaN and infinity become null', () => {
    const figure = plotlyFigure(
      plot({
        plotKind: 'line',
        x: 'step',
        y: 'v',
        rows: [
          { step: 0, v: Number.NaN },
          { step: 1, v: Infinity },
          { step: 2, v: 'nan' },
        ],
      }),
    );
    expect(JSON.parse(JSON.stringify(figure)).data[0].y).toEqual([null, null, null]);
    expect(figure.data[0]?.y).toEqual([null, null, null]);
  });

  it('draws tables as a Plotly table of every column', () => {
    const figure = plotlyFigure(
      plot({
        plotKind: 'table',
        rows: [
          { a: 1, b: 'x' },
          { a: 2, c: true },
        ],
      }),
    );
    expect(figure.data[0]).toEqual({
      type: 'table',
      header: { values: ['a', 'b', 'c'] },
      cells: {
        values: [
          [1, 2],
          ['x', null],
          [null, true],
        ],
      },
    });
  });
});

describe('ClearML settings', () => {
  it('derives the web and file hosts as the SDK does', () => {
    expect(deriveWebHost('https://api.clear.ml')).toBe('https://app.clear.ml');
    expect(deriveWebHost('http://10.0.0.5:8008')).toBe('http://10.0.0.5:8080');
    expect(deriveFilesHost('https://app.clear.ml')).toBe('https://files.clear.ml');
    expect(deriveFilesHost('http://10.0.0.5:8080')).toBe('http://10.0.0.5:8081');
  });

  it('reads CLEARML_* and the TRAINS_* aliases, and names what is missing', () => {
    const config = resolveClearmlConfig({
      environment: {
        TRAINS_API_HOST: 'http://127.0.0.1:8008',
        CLEARML_API_ACCESS_KEY: 'AK',
        CLEARML_API_SECRET_KEY: 'SK-secret',
      },
    });
    expect(config.apiBase.href).toBe('http://127.0.0.1:8008/');
    expect(config.webHost).toBe('http://127.0.0.1:8080');
    expect(config.filesHost.href).toBe('http://127.0.0.1:8081/');
    expect(config.loginAuthorization).toBe(
      `Basic ${Buffer.from('AK:SK-secret').toString('base64')}`,
    );
    expect(() => resolveClearmlConfig({ environment: {} })).toThrow(/CLEARML_API_HOST/);
    expect(() =>
      resolveClearmlConfig({
        environment: { CLEARML_API_HOST: 'http://127.0.0.1:8008', CLEARML_API_ACCESS_KEY: 'AK' },
      }),
    ).toThrow(/CLEARML_API_SECRET_KEY is not set/);
    expect(() =>
      resolveClearmlConfig({ environment: { CLEARML_API_HOST: 'http://127.0.0.1:8008' } }),
    ).toThrow(/CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY/);
  });

  it('refuses to send the keys over plain http to a remote host, unless allowed', () => {
    const environment = {
      CLEARML_API_HOST: 'http://clearml.example.com:8008',
      CLEARML_API_ACCESS_KEY: 'AK',
      CLEARML_API_SECRET_KEY: 'SK',
    };
    expect(() => resolveClearmlConfig({ environment })).toThrow(
      /plain http.*LIVESTEP_ALLOW_INSECURE_HTTP/,
    );
    expect(
      resolveClearmlConfig({ environment: { ...environment, LIVESTEP_ALLOW_INSECURE_HTTP: '1' } })
        .origin,
    ).toBe('http://clearml.example.com:8008');
  });

  it('escapes a project name as Python re.escape does, so the lookup matches it exactly', () => {
    const name = 'iris (v2) [lr=0.1]';
    const pattern = new RegExp(`^${escapePythonRegex(name)}$`);
    expect(pattern.test(name)).toBe(true);
    expect(pattern.test('iris (v2) [lr=0x1]')).toBe(false);
  });
});
