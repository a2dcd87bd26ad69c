import { describe, expect, it } from 'vitest';
import { validateStudioBody, validateStudioBodyText } from './validate-studio-body.js';

const common = {
  repo_url: 'https://github.com/a/b.git',
  baseline_sha: 'a'.repeat(40),
  name: 'brisk-otter',
  client: 'dvclive',
};

const paths = (body: unknown) => validateStudioBody(body).map((issue) => issue.path);

describe('validateStudioBody', () => {
  it('accepts the bodies of the reference', () => {
    expect(
      validateStudioBody({ type: 'start', ...common, message: 'm', subdir: 'project' }),
    ).toEqual([]);
    expect(
      validateStudioBody({
        type: 'data',
        ...common,
        step: 3,
        params: { 'dvclive/params.yaml': { lr: 0.1 } },
        metrics: { 'dvclive/metrics.json': { data: { loss: 'nan', step: 3 } } },
        plots: {
          'dvclive/plots/metrics/loss.tsv': { data: [{ timestamp: '1', step: 3, loss: 0.5 }] },
          'dvclive/plots/images/x.png': { image: 'iVBO' },
          'dvclive/plots/custom/t.json': { data: [{ a: 'x' }], props: { template: 'linear' } },
        },
      }),
    ).toEqual([]);
    expect(
      validateStudioBody({
        type: 'done',
        ...common,
        experiment_rev: 'b'.repeat(40),
        errors: [{ cls: 'E', text: 't' }],
      }),
    ).toEqual([]);
  });

  it('names every wrong field', () => {
    expect(paths({ ...common })).toEqual(['type']);
    expect(paths({ type: 'start', ...common, step: 1 })).toEqual(['step']);
    expect(paths({ type: 'data', ...common })).toEqual(['step']);
    expect(paths({ type: 'data', ...common, step: 1.5 })).toEqual(['step']);
    expect(paths({ type: 'done', ...common, plots: {} })).toEqual(['plots']);
    expect(paths({ type: 'start', ...common, baseline_sha: 'HEAD' })).toEqual(['baseline_sha']);
    expect(paths({ type: 'start', ...common, baseline_sha: 'A'.repeat(40) })).toEqual([
      'baseline_sha',
    ]);
    expect(paths({ type: 'start', ...common, repo_url: undefined })).toEqual(['repo_url']);
    expect(paths({ type: 'start', ...common, message: 'x'.repeat(73) })).toEqual(['message']);
    expect(paths({ type: 'start', ...common, unknown: 1 })).toEqual(['unknown']);
    expect(paths({ type: 'done', ...common, errors: [{ cls: 'E' }] })).toEqual(['errors[0].text']);
    expect(paths({ type: 'data', ...common, step: 0, metrics: { 'm.json': { loss: 1 } } })).toEqual(
      ['metrics["m.json"].loss', 'metrics["m.json"].data'],
    );
  });

  it('checks plot entries: exactly one of data or image, rows, paths', () => {
    const plots = (entries: unknown) => paths({ type: 'data', ...common, step: 0, plots: entries });
    expect(plots({ 'x.png': { image: 'a', data: [] } })).toEqual(['plots["x.png"]']);
    expect(plots({ 'x.png': {} })).toEqual(['plots["x.png"]']);
    expect(plots({ 'x.json': { data: [1] } })).toEqual(['plots["x.json"].data[0]']);
    expect(plots({ 'x.json': { data: [], props: [] } })).toEqual(['plots["x.json"].props']);
    expect(plots({ 'x.json': { data: [], extra: 1 } })).toEqual(['plots["x.json"].extra']);
    expect(plots({ '/abs/x.json': { data: [] } })).toEqual(['plots["/abs/x.json"]']);
    expect(plots({ '../x.json': { data: [] } })).toEqual(['plots["../x.json"]']);
    expect(plots({ 'a\\x.json': { data: [] } })).toEqual(['plots["a\\\\x.json"]']);
    expect(plots({ 'l.tsv': { data: [{ timestamp: 1, step: '1', l: null }] } })).toEqual([
      'plots["l.tsv"].data[0].step',
      'plots["l.tsv"].data[0].timestamp',
      'plots["l.tsv"].data[0].l',
    ]);
  });
});

describe('validateStudioBodyText', () => {
  it('reports NaN and Infinity, which JSON cannot carry', () => {
    const { issues } = validateStudioBodyText('{"type":"data","step":0,"metrics":{"x":NaN}}');
    expect(issues[0]!.message).toMatch(/contains NaN/);
    expect(validateStudioBodyText('{"v": -Infinity}').issues[0]!.message).toMatch(/-Infinity/);
    expect(validateStudioBodyText('{"v": "NaN"}').issues[0]!.path).toBe('type');
  });
});
