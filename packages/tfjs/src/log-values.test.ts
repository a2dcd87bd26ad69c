import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createMetricNamer, normalizePrefix, readLogs } from './log-values.js';

describe('readLogs', () => {
  it('reads Scalars and numbers alike, skips batch bookkeeping and leaves the Scalars alive', async () => {
    const loss = tf.scalar(0.25);
    const values = await readLogs({ batch: 3, size: 16, loss, acc: 0.5 });
    expect(Object.fromEntries(values)).toEqual({ loss: 0.25, acc: 0.5 });
    expect(loss.isDisposed).toBe(false);
    loss.dispose();
  });

  it('returns nothing for missing logs', async () => {
    expect((await readLogs(undefined)).size).toBe(0);
  });
});

describe('createMetricNamer', () => {
  it("names metrics as DVCLive's Keras integration does", () => {
    const names = createMetricNamer('');
    expect(names.epoch('loss')).toBe('train/loss');
    expect(names.epoch('val_acc')).toBe('eval/acc');
    expect(names.epoch('output_1_loss')).toBe('train/output_1_loss');
    expect(names.batch('loss')).toBe('train/batch/loss');
  });

  it('puts the prefix first and replaces characters a name may not hold', () => {
    const names = createMetricNamer(normalizePrefix('fold-1/'));
    expect(names.epoch('val_f1:macro')).toBe('fold-1/eval/f1_macro');
  });
});

describe('normalizePrefix', () => {
  it('accepts relative names and rejects absolute ones', () => {
    expect(normalizePrefix(undefined)).toBe('');
    expect(normalizePrefix('a/b')).toBe('a/b/');
    expect(() => normalizePrefix('/abs')).toThrow(/is not a relative name/);
  });
});
