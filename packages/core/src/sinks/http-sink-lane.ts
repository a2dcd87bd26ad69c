/**
 * The HTTP sink's lanes of requests, from memory and from the spool: up to MAX_REQUESTS_IN_FLIGHT
 * at once while the server answers, so the next body is built and sent while the server stores the last one and
 * neither side waits on the other (the points carry their own seq and step, so the order in which
 * the server commits them changes nothing it keeps). A batch with any other event (start, params,
 * done...) goes alone, after every request before it was acknowledged: the done event never
 * overtakes a point, nor params each other. Batches leave memory in order, once acknowledged.
 */
import type { Spool, SpoolWireChunk } from '../delivery/spool.js';
import type { Batch } from '../protocol/events.js';
import type { HttpSinkCustody } from './http-sink-custody.js';
import { MAX_REQUESTS_IN_FLIGHT } from './http-sink-options.js';

/**
 * How the delivery of one batch ended. 'done': delivered or refused for good (and kept);
 * 'spilled': the outage lasted past spillAfterMs and the batch went to the spool with the rest;
 * 'stopped': the sink stopped, or posting stopped (token refused, redirect); 'gave_up': the sink
 * is closing and will not retry a failing server, so the batch is left for the spool.
 */
export type Delivery = 'done' | 'stopped' | 'spilled' | 'gave_up';

export interface Lane {
  custody: HttpSinkCustody;
  /** Whether a new request may start now (the sink runs, posts, and is not spooling). */
  mayStart(): boolean;
  /** True while the server fails: it gets one request at a time. */
  failing(): boolean;
  /** The most events to merge into one request now. */
  requestEvents(): number;
  deliver(batch: Batch): Promise<Delivery>;
}

export interface SpoolLane {
  /** Whether a new request may start now (the sink runs and posts). */
  mayStart(): boolean;
  failing(): boolean;
  requestEvents(): number;
  deliver(chunk: SpoolWireChunk): Promise<Delivery>;
  /** The chunk was delivered: its events leave the spool's count. */
  delivered(chunk: SpoolWireChunk): void;
}

/** Whether a batch holds metric points only: such requests may overlap. */
const metricsOnly = (batch: Batch) => batch.events.every((event) => event.kind === 'metric');

/** Delivers what is in memory; resolves 'done' when memory is empty, else with what stopped it. */
export async function deliverFromMemory(lane: Lane): Promise<Delivery> {
  const { memory } = lane.custody;
  const inFlight: Array<{
    first: Batch;
    taken: number;
    count: number;
    result: Promise<Delivery>;
  }> = [];
  let offset = 0;
  let stoppedWith: Delivery = 'done';
  for (;;) {
    // Start requests while there is room; a failing server gets one at a time.
    while (
      stoppedWith === 'done' &&
      inFlight.length < (lane.failing() ? 1 : MAX_REQUESTS_IN_FLIGHT) &&
      lane.mayStart() &&
      (inFlight.length === 0 || memory[0] === inFlight[0]!.first)
    ) {
      const first = memory[offset];
      if (first === undefined) break;
      const alone = !metricsOnly(first);
      if (alone && inFlight.length > 0) break;
      // Under a backlog, several queued batches go in one request: fewer round trips.
      let taken = 1;
      let events = first.events;
      const most = lane.requestEvents();
      while (
        !alone &&
        offset + taken < memory.length &&
        events.length + memory[offset + taken]!.events.length <= most &&
        metricsOnly(memory[offset + taken]!)
      ) {
        events = events.concat(memory[offset + taken]!.events);
        taken++;
      }
      inFlight.push({
        first,
        taken,
        count: events.length,
        result: lane.deliver({ ...first, events }),
      });
      offset += taken;
      if (alone) break;
    }
    const head = inFlight.shift();
    if (head === undefined) return stoppedWith;
    const result = await head.result;
    offset -= head.taken;
    if (result === 'done') {
      // A spill while this request was in flight already moved its batches to the spool; the
      // replay sends them again, which the server's idempotency by event id absorbs.
      if (memory[0] === head.first) {
        lane.custody.release(head.taken, head.count);
      } else {
        offset = 0;
      }
    } else if (stoppedWith === 'done') {
      // Nothing new starts; the requests still in flight are awaited, so none outlives the loop.
      stoppedWith = result;
    }
  }
}

/**
 * Delivers what the spool holds past its acknowledged offset, as deliverFromMemory does memory:
 * chunks of points overlap (two in flight, so the server stores one while the next is read and
 * sent), a chunk of other events goes alone, after every chunk before it was acknowledged, and
 * the spool is acknowledged in order, chunk by chunk. Resolves 'done' when nothing is left to
 * read and everything read was delivered, else with what stopped it (what was read but not
 * acknowledged is read again by the next replay; event ids keep it from being stored twice).
 */
export async function deliverFromSpool(spool: Spool, lane: SpoolLane): Promise<Delivery> {
  const inFlight: Array<{ chunk: SpoolWireChunk; result: Promise<Delivery> }> = [];
  /** Read but not started: a chunk of other events waits until nothing is in flight. */
  let held: SpoolWireChunk | undefined;
  let readTo: number | undefined;
  let stoppedWith: Delivery = 'done';
  for (;;) {
    while (
      stoppedWith === 'done' &&
      inFlight.length < (lane.failing() ? 1 : MAX_REQUESTS_IN_FLIGHT) &&
      lane.mayStart()
    ) {
      const chunk = held ?? (await spool.readWire(lane.requestEvents(), readTo));
      held = undefined;
      if (chunk.count === 0) {
        // Nothing past what was read (a part of the file no line of this process covers is
        // passed over, as a file found at start is).
        if (inFlight.length === 0) spool.acknowledge(chunk.endOffset);
        break;
      }
      if (!chunk.metricsOnly && inFlight.length > 0) {
        held = chunk;
        break;
      }
      readTo = chunk.endOffset;
      inFlight.push({ chunk, result: lane.deliver(chunk) });
      if (!chunk.metricsOnly) break;
    }
    const head = inFlight.shift();
    if (head === undefined) return stoppedWith;
    const result = await head.result;
    if (result === 'done' && stoppedWith === 'done') {
      spool.acknowledge(head.chunk.endOffset);
      lane.delivered(head.chunk);
    } else if (stoppedWith === 'done') {
      // Nothing new starts; the requests still in flight are awaited, so none outlives the loop.
      stoppedWith = result;
    }
  }
}
