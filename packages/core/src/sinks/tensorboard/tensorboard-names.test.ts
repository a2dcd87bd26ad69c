import { describe, expect, it } from 'vitest';
import { tensorBoardPlace } from './tensorboard-names.js';

describe('where a livestep name goes in a log directory', () => {
  it.each([
    ['train/loss', 'train', 'loss'],
    ['train/batch/loss', 'train', 'batch/loss'],
    ['train/epoch_seconds', 'train', 'epoch_seconds'],
    ['eval/accuracy', 'val', 'accuracy'],
    ['val/loss', 'val', 'loss'],
    ['validation/f1', 'val', 'f1'],
    ['val_loss', 'val', 'loss'],
    ['fold-1/train/loss', 'fold-1/train', 'loss'],
    ['fold-1/eval/loss', 'fold-1/val', 'loss'],
    ['fold-1/val_acc', 'fold-1/val', 'acc'],
    ['loss', '', 'loss'],
    ['train', '', 'train'],
    ['val_', '', 'val_'],
    ['system/cpu_percent', '', 'system/cpu_percent'],
    ['histograms/dense_Dense1/kernel', '', 'histograms/dense_Dense1/kernel'],
    ['eval/recall/class=setosa', 'val', 'recall/class=setosa'],
  ])('%s -> folder "%s", tag "%s"', (name, folder, tag) => {
    expect(tensorBoardPlace(name)).toEqual({ folder, tag });
  });
});
