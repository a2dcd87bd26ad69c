import { describe, expect, it } from 'vitest';
import { attachBar, printAbove } from './progress-terminal.js';
import { captureStream } from './test-support/capture-stream.js';
import { terminalScreen as screen } from './test-support/terminal-screen.js';

/** A fake stdout whose writes the live line may capture. */
function fakeStdout(into: { write(text: string): boolean }) {
  return {
    isTTY: true,
    write(chunk: string | Uint8Array) {
      into.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    },
  };
}

describe('the live line of a terminal', () => {
  it('prints text above the bar and redraws the bar under it', () => {
    const terminal = captureStream({ columns: 80 });
    let text = 'bar 1';
    const bar = attachBar(terminal, () => text, { captureStreams: [] });
    bar.draw();
    printAbove(terminal, 'epoch 1: loss 0.5');
    text = 'bar 2';
    bar.draw();
    printAbove(terminal, 'epoch 2: loss 0.4\n');
    bar.finish('bar done');
    expect(screen(terminal.text())).toEqual([
      'epoch 1: loss 0.5',
      'epoch 2: loss 0.4',
      'bar done',
      '',
    ]);
  });

  it('what the program writes while the bar is up goes above it, even a line in pieces', () => {
    const terminal = captureStream({ columns: 80 });
    const stdout = fakeStdout(terminal);
    const bar = attachBar(terminal, () => '42%|####|', { captureStreams: [stdout] });
    bar.draw();
    stdout.write('first line\n');
    stdout.write('second ');
    // Mid-line: no redraw, so the text is not overwritten.
    bar.draw();
    stdout.write('line\n');
    stdout.write(Buffer.from('bytes\n'));
    bar.finish('100%|####| done');
    expect(screen(terminal.text())).toEqual([
      'first line',
      'second line',
      'bytes',
      '100%|####| done',
      '',
    ]);
    // Put back once the last bar finished.
    stdout.write('after\n');
    expect(terminal.text().endsWith('done\u001b[0K\nafter\n')).toBe(true);
  });

  it('puts back the streams it replaced, unless someone replaced them after it', () => {
    const terminal = captureStream({ columns: 80 });
    const stdout = fakeStdout(terminal);
    const original = stdout.write;
    const bar = attachBar(terminal, () => 'bar', { captureStreams: [stdout] });
    expect(stdout.write).not.toBe(original);
    bar.finish('bar');
    expect(stdout.write).toBe(original);
  });

  it('nested bars: the inner one draws, leaves its last line, and the outer one draws again', () => {
    const terminal = captureStream({ columns: 80 });
    const outer = attachBar(terminal, () => 'epoch 1/2', { captureStreams: [] });
    outer.draw();
    const inner = attachBar(terminal, () => 'batch 5/10', { captureStreams: [] });
    inner.draw();
    outer.draw(); // not on top: draws nothing
    inner.finish('batch 10/10 done');
    const second = attachBar(terminal, () => 'batch 3/10', { captureStreams: [] });
    second.draw();
    second.finish('batch 10/10 done');
    outer.finish('epoch 2/2 done');
    expect(screen(terminal.text())).toEqual([
      'batch 10/10 done',
      'batch 10/10 done',
      'epoch 2/2 done',
      '',
    ]);
  });
});
