/**
 * The live line of a terminal: the one line progress bars redraw in place, and everything else
 * printed above it. One per stream, shared by the bars drawn on it:
 *
 * - bars form a stack: the newest (an inner loop) draws, the ones below wait; when it finishes,
 *   its last line stays above and the bar below it draws again;
 * - `printAbove(text)` (`loop.write()`) clears the bar, prints the text on lines of its own, and
 *   redraws the bar under it, as tqdm.write and cli-progress's log do;
 * - while a bar is up on process.stdout or process.stderr, what the program itself writes to a
 *   terminal there (`console.log`, `console.error`, any `process.stdout.write`) goes through the
 *   same path: the bar is cleared first and redrawn after a line ends, so text is never glued to
 *   the bar and the last bar is never overwritten. The streams are put back when the last bar
 *   finishes.
 *
 * Only escape codes every terminal knows: to column 1 (`CSI 1G`) and clear to the end of the line
 * (`CSI 0K`); never save/restore the cursor, which scrolling text would send to a wrong row.
 */
import type { ProgressStream } from './progress-reporter.js';

/** To the first column of the line (readline.cursorTo(stream, 0)). */
export const TO_FIRST_COLUMN = '\u001b[1G';
/** Clears from the cursor to the end of the line (readline.clearLine(stream, 1)). */
export const CLEAR_RIGHT = '\u001b[0K';

/** A bar on the live line; `render` gives its current text, already fitted to the width. */
export interface LiveBar {
  /** Draws the bar's current text, if it is the bar on top and the text changed. */
  draw(): void;
  /** Draws `text` as the bar's last line, which stays; the bar below (if any) draws again. */
  finish(text: string): void;
}

/** A stream whose `write` can be replaced (process.stdout, process.stderr, a test's fake). */
interface WritableLike {
  write: (...args: never[]) => unknown;
  isTTY?: boolean;
}

interface LiveLine {
  readonly stream: ProgressStream;
  /** Writes to the terminal, past any replaced `write`. */
  readonly writeRaw: (text: string) => void;
  readonly bars: Array<{ render: () => string; drawn: string | undefined }>;
  /** A bar's text is on the screen, the cursor after it (no newline). */
  visible: boolean;
  /** The program wrote text that did not end its line: redrawing now would overwrite it. */
  midLine: boolean;
  /** The streams whose write was replaced, and what to put back. */
  readonly replaced: Array<{ target: WritableLike; original: WritableLike['write'] }>;
}

const liveLines = new Map<ProgressStream, LiveLine>();

function endsLine(chunk: unknown): boolean {
  if (typeof chunk === 'string') return chunk.endsWith('\n');
  if (chunk instanceof Uint8Array) return chunk.length > 0 && chunk[chunk.length - 1] === 0x0a;
  return true;
}

function redrawTop(line: LiveLine): void {
  const top = line.bars.at(-1);
  if (top === undefined || line.midLine) return;
  const text = top.render();
  if (line.visible && text === top.drawn) return;
  line.writeRaw(`${TO_FIRST_COLUMN}${text}${CLEAR_RIGHT}`);
  top.drawn = text;
  line.visible = true;
}

function clearBar(line: LiveLine): void {
  if (!line.visible) return;
  line.writeRaw(`${TO_FIRST_COLUMN}${CLEAR_RIGHT}`);
  line.visible = false;
  const top = line.bars.at(-1);
  if (top !== undefined) top.drawn = undefined;
}

/** Replaces `target.write` so that what the program writes there goes above the bar. */
function captureWrites(line: LiveLine, target: WritableLike): void {
  if (line.replaced.some((entry) => entry.target === target)) return;
  const original = target.write;
  const replacement = function (this: unknown, ...args: unknown[]): unknown {
    clearBar(line);
    const result = (original as (...values: unknown[]) => unknown).apply(this, args);
    line.midLine = !endsLine(args[0]);
    redrawTop(line);
    return result;
  };
  target.write = replacement as WritableLike['write'];
  line.replaced.push({ target, original });
}

function releaseWrites(line: LiveLine): void {
  for (const { target, original } of line.replaced.reverse()) {
    // Put back only what is still ours: someone who replaced it after us keeps theirs.
    if (target.write !== original) target.write = original;
  }
  line.replaced.length = 0;
}

export interface AttachOptions {
  /**
   * Print what the program writes to these streams above the bar (default: process.stdout and
   * process.stderr that are terminals, when the bar is drawn on one of them). An empty list
   * leaves them alone.
   */
  captureStreams?: readonly WritableLike[];
}

function defaultCapture(stream: ProgressStream): WritableLike[] {
  if (stream !== process.stderr && stream !== process.stdout) return [];
  return [process.stdout, process.stderr].filter((target) => target.isTTY === true);
}

/** Puts a bar on the stream's live line, on top of the bars already there. */
export function attachBar(
  stream: ProgressStream,
  render: () => string,
  options: AttachOptions = {},
): LiveBar {
  let line = liveLines.get(stream);
  if (line === undefined) {
    const write = stream.write;
    line = {
      stream,
      writeRaw: (text) => {
        write.call(stream, text);
      },
      bars: [],
      visible: false,
      midLine: false,
      replaced: [],
    };
    liveLines.set(stream, line);
    for (const target of options.captureStreams ?? defaultCapture(stream)) {
      captureWrites(line, target);
    }
  }
  const live = line;
  const entry = { render, drawn: undefined as string | undefined };
  // A new bar on top: the one below stops drawing, its line is taken over.
  const below = live.bars.at(-1);
  if (below !== undefined) below.drawn = undefined;
  live.bars.push(entry);
  let finished = false;
  return {
    draw() {
      if (!finished && live.bars.at(-1) === entry) redrawTop(live);
    },
    finish(text) {
      if (finished) return;
      finished = true;
      const isTop = live.bars.at(-1) === entry;
      live.bars.splice(live.bars.indexOf(entry), 1);
      if (isTop) {
        if (live.midLine) live.writeRaw('\n');
        live.writeRaw(`${TO_FIRST_COLUMN}${text}${CLEAR_RIGHT}\n`);
        live.visible = false;
        live.midLine = false;
      } else {
        // A bar below the one drawing (an outer loop ended first): its last line goes above.
        printAbove(stream, text);
      }
      if (live.bars.length === 0) {
        releaseWrites(live);
        liveLines.delete(stream);
      } else redrawTop(live);
    },
  };
}

/**
 * Prints `text` above the stream's bar (on lines of its own), then redraws the bar; with no bar
 * up, just prints it.
 */
export function printAbove(stream: ProgressStream, text: string): void {
  const line = liveLines.get(stream);
  const ended = text.endsWith('\n') ? text : `${text}\n`;
  if (line === undefined) {
    stream.write(ended);
    return;
  }
  clearBar(line);
  if (line.midLine) line.writeRaw('\n');
  line.writeRaw(ended);
  line.midLine = false;
  redrawTop(line);
}
