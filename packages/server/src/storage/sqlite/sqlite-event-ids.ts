/**
 * Which events were stored before: what makes ingest idempotent (a retried or replayed batch
 * stores nothing twice, whichever form, objects or metric columns, carried its points).
 *
 * Two records, one per kind of id:
 * - An id made the way core's Run makes them (a run-wide 10-byte prefix, then the event's own
 *   seq in the last 6 bytes; a metric-columns block's `idPrefix`) is recorded as part of a range
 *   of seqs per (run, prefix) in `event_seq_ranges`: a run that logs seq 0..n keeps one row, where
 *   `event_ids` kept one 16-byte key per event (a second B-tree insert beside every point, and a
 *   Buffer per id: 7-12% of the server's time in a profile of the ingest benchmark; migration 3).
 * - Any other id (Studio's derived ids, a client's own UUIDs) goes to `event_ids`, one row each.
 *   So do all ids of a run stored before migration 3: its prefixed ids are in `event_ids` already,
 *   and a replay of its old batches must find them there.
 *
 * An id is compared as its 16 bytes either way, so a point sent once as an object and once in
 * columns is the same event. One contract is narrower than "the id alone": a prefixed id is
 * recorded under its event's seq, so the same id sent again must come with the same seq, as a
 * retry or a replay does (core's Run, its sinks and `livestep sync` never do otherwise). An id
 * whose last 12 digits are not its seq is any other id (`event_ids`).
 */
import { MAX_PREFIXED_SEQ, type MetricColumns } from '@livestep/core/protocol';
import type Database from 'better-sqlite3';

/**
 * Event ids per INSERT statement: 100 a statement record ~3,100,000 ids/s here against ~900,000
 * for one a statement.
 */
const IDS_PER_STATEMENT = 100;
/** Bytes of an event id, and of the part of it an `idPrefix` gives (the rest is the seq). */
const ID_BYTES = 16;
const ID_PREFIX_BYTES = 10;
const SEQ_BYTES = ID_BYTES - ID_PREFIX_BYTES;

/** Characters of a UUID, and of the part of it an `idPrefix` gives (`8d0c1f2a-3b4c-8d5e-9f60-`). */
const UUID_LENGTH = 36;
const PREFIX_LENGTH = 24;
/** The seq part, as it must be spelled (parseInt alone would take `0x…` or trailing junk). */
const HEX_TAIL = /^[0-9a-fA-F]{12}$/;
const SEQ_HEX_DIGITS = 12;
/** `00` … `ff`: the last two hex digits of an id made from a prefix (as core's Run makes them). */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** What this record needs to know of a run. */
export interface EventIdRun {
  key: number;
  /** Stored before migration 3: every id of it is looked up in `event_ids`. */
  legacyIds: boolean;
}

/** `8d0c…-…` -> its 16 bytes: half the size of the text in the id index. */
function idBytes(id: string): Buffer {
  return Buffer.from(
    id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24),
    'hex',
  );
}

interface PrefixGroup {
  text: string;
  prefix: Buffer;
  indexes: number[];
  seqs: number[];
}

/** The 10 bytes of an id prefix (`8d0c1f2a-3b4c-8d5e-9f60-`). */
function prefixBytes(prefix: string): Buffer {
  return idBytes(`${prefix}000000000000`).subarray(0, ID_PREFIX_BYTES);
}

export class SqliteEventIds {
  private readonly statements;

  constructor(database: Database.Database) {
    const prepare = (sql: string) => database.prepare(sql);
    this.statements = {
      eventId: prepare('INSERT OR IGNORE INTO event_ids (id) VALUES (?)'),
      eventIds: prepare(
        `INSERT OR IGNORE INTO event_ids (id) VALUES ${Array(IDS_PER_STATEMENT).fill('(?)').join(', ')}`,
      ),
      savepoint: prepare('SAVEPOINT livestep_event_ids'),
      rollbackToSavepoint: prepare('ROLLBACK TO livestep_event_ids'),
      releaseSavepoint: prepare('RELEASE livestep_event_ids'),
      // The range that starts at or before a seq (ranges never overlap: at most one holds it).
      rangeAtOrBefore: prepare(
        `SELECT first_seq, last_seq FROM event_seq_ranges
         WHERE run_key = ? AND id_prefix = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1`,
      ).raw(),
      rangesStartingIn: prepare(
        `SELECT first_seq, last_seq FROM event_seq_ranges
         WHERE run_key = ? AND id_prefix = ? AND first_seq > ? AND first_seq <= ? ORDER BY first_seq`,
      ).raw(),
      deleteRangesStartingIn: prepare(
        'DELETE FROM event_seq_ranges WHERE run_key = ? AND id_prefix = ? AND first_seq > ? AND first_seq <= ?',
      ),
      extendRange: prepare(
        'UPDATE event_seq_ranges SET last_seq = ? WHERE run_key = ? AND id_prefix = ? AND first_seq = ?',
      ),
      insertRange: prepare(
        'INSERT INTO event_seq_ranges (run_key, id_prefix, first_seq, last_seq) VALUES (?, ?, ?, ?)',
      ),
      countRanges: prepare(
        'SELECT coalesce(sum(last_seq - first_seq + 1), 0) AS n FROM event_seq_ranges',
      ),
      countIds: prepare('SELECT count(*) AS n FROM event_ids'),
      hasId: prepare('SELECT 1 FROM event_ids WHERE id = ?').pluck(),
    };
  }

  /**
   * Whether an event id is recorded for the run. A prefix-shaped id is looked for in the run's
   * ranges under the seq its last digits spell: if that seq is stored under the prefix, the event
   * stored was exactly this id.
   */
  has(runKey: number, id: string): boolean {
    const bytes = idBytes(id);
    if (this.statements.hasId.get(bytes) !== undefined) return true;
    const seq = bytes.readUIntBE(ID_PREFIX_BYTES, SEQ_BYTES);
    const range = this.statements.rangeAtOrBefore.get(
      runKey,
      bytes.subarray(0, ID_PREFIX_BYTES),
      seq,
    ) as [number, number] | undefined;
    return range !== undefined && range[1] >= seq;
  }

  /** Events recorded, for counts(). */
  count(): number {
    return (
      (this.statements.countIds.get() as { n: number }).n +
      (this.statements.countRanges.get() as { n: number }).n
    );
  }

  /**
   * Records a batch's event objects; returns, per event, 1 when it is new (to be stored) and 0
   * when it was stored before (a retry, a replay, or the same id twice in one request). With
   * `assignSequence` the store numbers the events itself, so their ids say nothing of a seq.
   */
  recordEvents(
    run: EventIdRun,
    events: ReadonlyArray<{ id: string; seq: number }>,
    assignSequence: boolean,
  ): Uint8Array {
    const fresh = new Uint8Array(events.length);
    const others: number[] = [];
    const othersBytes: Buffer[] = [];
    /** Prefixed ids by prefix (its text, lowercase): their events' indexes and seqs. */
    const byPrefix = new Map<string, PrefixGroup>();
    const bySeq = !run.legacyIds && !assignSequence;
    // The group of the id before, and the hex of the seq's high part (changes once per 256).
    let group: PrefixGroup | undefined;
    let blockHigh = -1;
    let blockHex = '';
    for (let index = 0; index < events.length; index++) {
      const event = events[index]!;
      const { id, seq } = event;
      // Read from the text, without allocating for the usual id (core's, lowercase, a batch of
      // one run): decoding every id to bytes first was ~15% of the server's time on a flood of
      // event objects. The last 12 hex digits of a UUID are its last 6 bytes.
      let prefixed = false;
      // Up to MAX_PREFIXED_SEQ only: a larger seq does not fit in the id's last 6 bytes (and its
      // hex would overlap the prefix in the quick test below).
      if (bySeq && id.length === UUID_LENGTH && seq <= MAX_PREFIXED_SEQ) {
        const high = Math.floor(seq / 256);
        if (high !== blockHigh) {
          blockHigh = high;
          blockHex = high.toString(16).padStart(SEQ_HEX_DIGITS - 2, '0');
        }
        prefixed =
          (id.startsWith(blockHex, PREFIX_LENGTH) && id.endsWith(BYTE_HEX[seq - high * 256]!)) ||
          // Spelled otherwise (upper case): rare, checked the long way.
          (HEX_TAIL.test(id.slice(PREFIX_LENGTH)) &&
            Number.parseInt(id.slice(PREFIX_LENGTH), 16) === seq);
      }
      if (!prefixed) {
        others.push(index);
        othersBytes.push(idBytes(id));
        continue;
      }
      if (group === undefined || !id.startsWith(group.text)) {
        // Lowercased: the key stands for the prefix's bytes, whatever case spelled them.
        const key = id.slice(0, PREFIX_LENGTH).toLowerCase();
        group = byPrefix.get(key);
        if (group === undefined) {
          group = { text: key, prefix: prefixBytes(key), indexes: [], seqs: [] };
          byPrefix.set(key, group);
        }
      }
      group.indexes.push(index);
      group.seqs.push(seq);
    }
    const otherFresh = this.recordIds(othersBytes);
    others.forEach((index, position) => {
      fresh[index] = otherFresh[position]!;
    });
    for (const group of byPrefix.values()) {
      const groupFresh = this.recordSeqs(run.key, group.prefix, group.seqs);
      group.indexes.forEach((index, position) => {
        fresh[index] = groupFresh[position]!;
      });
    }
    return fresh;
  }

  /** The same for the points of a metric-columns block, whose seqs are given (summed). */
  recordColumns(run: EventIdRun, columns: MetricColumns, seqs: Float64Array): Uint8Array {
    if (columns.idPrefix !== undefined && !run.legacyIds) {
      return this.recordSeqs(run.key, prefixBytes(columns.idPrefix), seqs);
    }
    if (columns.idPrefix === undefined) {
      // Listed ids: each is whatever kind of id it is, as if its point had come as an object.
      const events = columns.ids!.map((id, index) => ({ id, seq: seqs[index]! }));
      return this.recordEvents(run, events, false);
    }
    // A run from before migration 3: its ids, written out, go to event_ids as they always did.
    const prefix = idBytes(`${columns.idPrefix}000000000000`);
    const ids = new Array<Buffer>(seqs.length);
    for (let index = 0; index < seqs.length; index++) {
      const bytes = Buffer.allocUnsafe(ID_BYTES);
      prefix.copy(bytes, 0, 0, ID_PREFIX_BYTES);
      bytes.writeUIntBE(seqs[index]!, ID_PREFIX_BYTES, SEQ_BYTES);
      ids[index] = bytes;
    }
    return this.recordIds(ids);
  }

  /** Records ids in `event_ids`; 1 per new id, 0 per id stored before (or twice in `ids`). */
  private recordIds(ids: Buffer[]): Uint8Array {
    const { statements } = this;
    const fresh = new Uint8Array(ids.length);
    let index = 0;
    for (; index + IDS_PER_STATEMENT <= ids.length; index += IDS_PER_STATEMENT) {
      statements.savepoint.run();
      const changes = statements.eventIds.run(ids.slice(index, index + IDS_PER_STATEMENT)).changes;
      if (changes === IDS_PER_STATEMENT || changes === 0) {
        // All new (the usual case) or all stored before (a whole batch retried).
        if (changes !== 0) fresh.fill(1, index, index + IDS_PER_STATEMENT);
        statements.releaseSavepoint.run();
        continue;
      }
      // Some of each: undo the chunk and record its ids one by one, to tell which are new.
      statements.rollbackToSavepoint.run();
      statements.releaseSavepoint.run();
      for (let one = index; one < index + IDS_PER_STATEMENT; one++) {
        fresh[one] = statements.eventId.run(ids[one]).changes;
      }
    }
    for (; index < ids.length; index++) fresh[index] = statements.eventId.run(ids[index]).changes;
    return fresh;
  }

  /**
   * Records seqs of one (run, prefix) in its ranges; 1 per new seq, 0 per seq stored before (or
   * twice in `seqs`, the first one counting as new). The seqs are taken in ascending order, in
   * groups of consecutive seqs: each group costs two indexed lookups and at most a few writes,
   * so a batch of consecutive points (the usual case) costs the same whatever its length, and
   * a scattered one costs about what one id row a point did.
   */
  private recordSeqs(runKey: number, prefix: Buffer, seqs: ArrayLike<number>): Uint8Array {
    const count = seqs.length;
    const fresh = new Uint8Array(count);
    let ascending = true;
    for (let index = 1; index < count && ascending; index++) {
      if (!(seqs[index]! > seqs[index - 1]!)) ascending = false;
    }
    let order: ArrayLike<number> | undefined;
    if (!ascending) {
      // Stable: of the same seq twice, the first in the batch is the one stored.
      order = Array.from({ length: count }, (_, index) => index).sort(
        (a, b) => seqs[a]! - seqs[b]! || a - b,
      );
    }
    const at = (position: number) => (order === undefined ? position : order[position]!);
    const { statements } = this;
    let position = 0;
    while (position < count) {
      // A group: consecutive seqs (a repeat of the seq before it is a duplicate, and stays in it).
      const start = position;
      const first = seqs[at(start)]!;
      let last = first;
      position++;
      while (position < count) {
        const seq = seqs[at(position)]!;
        if (seq === last) {
          position++;
          continue;
        }
        if (seq !== last + 1) break;
        last = seq;
        position++;
      }
      const before = statements.rangeAtOrBefore.get(runKey, prefix, first) as
        | [number, number]
        | undefined;
      const inside = statements.rangesStartingIn.all(runKey, prefix, first, last + 1) as Array<
        [number, number]
      >;
      // Which seqs of the group a stored range holds: walk both in ascending order.
      const covering = before !== undefined && before[1] >= first ? [before, ...inside] : inside;
      let range = 0;
      let previous = -1;
      for (let member = start; member < position; member++) {
        const index = at(member);
        const seq = seqs[index]!;
        if (seq === previous) continue;
        previous = seq;
        while (range < covering.length && covering[range]![1] < seq) range++;
        const held = range < covering.length && covering[range]![0] <= seq;
        fresh[index] = held ? 0 : 1;
      }
      // The group joins the ranges it touches (overlapping or adjacent) into one.
      let merged = last;
      for (const [, end] of inside) if (end > merged) merged = end;
      if (inside.length > 0) {
        statements.deleteRangesStartingIn.run(runKey, prefix, first, last + 1);
      }
      if (before !== undefined && before[1] >= first - 1) {
        if (merged > before[1]) statements.extendRange.run(merged, runKey, prefix, before[0]);
      } else {
        statements.insertRange.run(runKey, prefix, first, merged);
      }
    }
    return fresh;
  }
}
