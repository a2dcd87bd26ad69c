/**
 * What waits for ClearML, in the order it was logged: events for `events.add_batch`, params for
 * `tasks.edit_hyper_params`, images still to upload to the file server. Each item carries the
 * livestep events it settles once ClearML took it.
 *
 * A batch is taken from the front: the longest run of events whose JSON lines fit in one request
 * (ClearML's SDK splits at 15 MiB, A.5); params next to each other go in one call.
 */
import type { ImageEvent } from '../../protocol/events.js';
import type { ClearmlEventBody, ClearmlHyperparam } from './clearml-events.js';

export type ClearmlItem =
  | { kind: 'event'; body: ClearmlEventBody; events: number }
  | { kind: 'hyperparams'; list: ClearmlHyperparam[]; events: number }
  | { kind: 'image'; event: ImageEvent; events: number };

export interface EventChunk {
  kind: 'events';
  /** JSON lines, each event with its task. */
  body: string;
  count: number;
  events: number;
  /** Stopped at the size limit (more events wait behind it). */
  full: boolean;
}

export class ClearmlQueue {
  private items: ClearmlItem[] = [];
  private head = 0;
  private queuedEvents = 0;

  get events(): number {
    return this.queuedEvents;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: ClearmlItem): void {
    this.items.push(item);
    this.queuedEvents += item.events;
  }

  peek(): ClearmlItem | undefined {
    return this.items[this.head];
  }

  /** Puts `item` in the place of the front one (an image once uploaded becomes its event). */
  replaceFront(item: ClearmlItem): void {
    const front = this.items[this.head];
    if (front === undefined) return;
    this.queuedEvents += item.events - front.events;
    this.items[this.head] = item;
  }

  /**
   * The events at the front as one add_batch body of at most `maxBytes`; `oversized` is called
   * for (and drops) an event that alone is larger.
   */
  takeEvents(
    task: string,
    maxBytes: number,
    oversized: (item: ClearmlItem) => void,
  ): EventChunk | undefined {
    const lines: string[] = [];
    let bytes = 0;
    let events = 0;
    let index = this.head;
    let full = false;
    for (; index < this.items.length; index++) {
      const item = this.items[index];
      if (item === undefined || item.kind !== 'event') break;
      const line = JSON.stringify({ task, ...item.body });
      const size = Buffer.byteLength(line) + 1;
      if (size > maxBytes && lines.length === 0) {
        oversized(item);
        this.settle(1);
        index = this.head - 1;
        continue;
      }
      if (bytes + size > maxBytes) {
        full = true;
        break;
      }
      lines.push(line);
      bytes += size;
      events += item.events;
    }
    if (lines.length === 0) return undefined;
    return { kind: 'events', body: lines.join('\n'), count: lines.length, events, full };
  }

  /** The params items at the front, merged (a later value of a name wins). */
  takeHyperparams(): { list: ClearmlHyperparam[]; count: number } | undefined {
    const merged = new Map<string, ClearmlHyperparam>();
    let count = 0;
    for (let index = this.head; index < this.items.length; index++) {
      const item = this.items[index];
      if (item === undefined || item.kind !== 'hyperparams') break;
      for (const param of item.list) merged.set(param.name, param);
      count++;
    }
    return count === 0 ? undefined : { list: [...merged.values()], count };
  }

  /** Removes `count` items from the front once ClearML answered for them; returns their events. */
  settle(count: number): number {
    let events = 0;
    for (let index = 0; index < count && this.head < this.items.length; index++) {
      events += this.items[this.head]?.events ?? 0;
      this.items[this.head] = undefined as unknown as ClearmlItem;
      this.head++;
    }
    this.queuedEvents -= events;
    // Compact now and then, so a long run does not keep a long array of holes.
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return events;
  }

  /** Empties the queue; returns the events it held. */
  discard(): number {
    const events = this.queuedEvents;
    this.items = [];
    this.head = 0;
    this.queuedEvents = 0;
    return events;
  }
}
