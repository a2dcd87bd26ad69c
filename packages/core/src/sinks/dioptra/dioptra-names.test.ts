// The mapping from livestep series names to Dioptra's metric names (backends.md B.3) is
// reversible: every character class round-trips, every name it makes is one Dioptra takes, and
// two different series never share a Dioptra name.
import { describe, expect, it } from 'vitest';
import { metricSeriesName } from '../../dvclive/layout.js';
import { DIOPTRA_METRIC_NAME, decodeDioptraName, encodeDioptraName } from './dioptra-names.js';

describe('Dioptra metric names', () => {
  it.each([
    ['train/loss', 'train__loss'],
    ['val_loss', 'val_loss'],
    ['top_5', 'top_05'],
    ['a_', 'a_0'],
    ['_', '_0'],
    ['__x', '_0_x'],
    ['a_/b', 'a_0__b'],
    ['a/_b', 'a___b'],
    ['/', '__'],
    ['x', 'x'],
    ['1st/loss', '_9000031st__loss'],
    ['train/class=setosa', 'train__class_2setosa'],
    ['step time (ms)', 'step_1time_1_5ms_6'],
    ['lr-decay.rate, a:b', 'lr_3decay_4rate_7_1a_8b'],
    ['loss%', 'loss_9000025'],
    ['größe', 'gr_90000f6_90000dfe'],
    ['emoji🙂', 'emoji_901f642'],
  ])('%j ↔ %j', (series, name) => {
    expect(encodeDioptraName(series)).toBe(name);
    expect(DIOPTRA_METRIC_NAME.test(name)).toBe(true);
    expect(decodeDioptraName(name)).toBe(series);
  });

  it('round-trips labels as the run folder writes them', () => {
    const series = metricSeriesName('eval/precision', { class: 'Iris setosa', fold: '2' });
    const name = encodeDioptraName(series);
    expect(name).toBe('eval__precision__class_2Iris_1setosa__fold_22');
    expect(decodeDioptraName(name)).toBe(series);
  });

  it('round-trips every character class, alone, first, last and between letters', () => {
    const samples = [
      ...'azAZ09_/ =-.(),:',
      '\t',
      '\u0000',
      '%',
      '"',
      'é',
      'ß',
      '中',
      '🙂',
      '\ud800',
      '__',
      '_9',
      '_0',
      '9_',
    ];
    const seen = new Map<string, string>();
    for (const sample of samples) {
      for (const series of [sample, `${sample}x`, `x${sample}`, `x${sample}y`, `x${sample}1`]) {
        const name = encodeDioptraName(series);
        expect(DIOPTRA_METRIC_NAME.test(name), `${JSON.stringify(series)} → ${name}`).toBe(true);
        expect(decodeDioptraName(name)).toBe(series);
        expect(seen.get(name) ?? series, `${name} is taken`).toBe(series);
        seen.set(name, series);
      }
    }
  });

  it('round-trips random names over a mixed alphabet without collisions', () => {
    const alphabet = [...'ab_/ =.(9', '0', 'é', '🙂', '%'];
    let state = 12345;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const seen = new Map<string, string>();
    for (let count = 0; count < 5000; count++) {
      const length = 1 + Math.floor(random() * 8);
      let series = '';
      for (let index = 0; index < length; index++) {
        series += alphabet[Math.floor(random() * alphabet.length)];
      }
      const name = encodeDioptraName(series);
      expect(DIOPTRA_METRIC_NAME.test(name), `${JSON.stringify(series)} → ${name}`).toBe(true);
      expect(decodeDioptraName(name)).toBe(series);
      expect(seen.get(name) ?? series).toBe(series);
      seen.set(name, series);
    }
  });

  it('refuses to decode names it never makes, saying why', () => {
    for (const name of ['1abc', 'a-b', 'a_', 'a_9zz', 'a_9000']) {
      expect(() => decodeDioptraName(name), name).toThrow(/not a name the Dioptra sink writes/);
    }
  });
});
