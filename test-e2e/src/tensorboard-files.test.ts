// examples/tfjs-fit run as a user runs it (`node src/main.mjs`, a real tfjs fit through the
// @livestep/tfjs callback), with LIVESTEP_TENSORBOARD_DIR set and no code change: on the cpu and
// the wasm backend (tfjs-node's own TensorBoard callback works on neither), the event files are
// read back while it trains (they grow between epochs) and after it ends, by the independent
// reader below (TFRecord framing and both CRCs checked, protobuf decoded by hand), and
// every epoch's values equal what the directory sink wrote. TensorBoard itself (Python) cannot
// be installed here; that reader stands in for it. The loop and onnx adapters write through the
// same sink: examples/custom-loop and examples/onnx-eval (two runs, `{run}` in the path) too.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// --- A reader of event files, written here from the format (backends.md C.3, C.4), sharing no
// code with the writer: TFRecord framing with both masked CRC32Cs checked, and the Event,
// Summary and Summary.Value fields decoded by hand (wire types 0, 1, 2, 5).

/** CRC32C, bit by bit (reflected Castagnoli polynomial, RFC 3720 B.4). */
function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;

type Fields = Map<number, Array<number | Uint8Array>>;

/** A message's fields by number: varints as numbers, everything else as its bytes. */
function fieldsOf(message: Uint8Array): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      const byte = message[offset++];
      if (byte === undefined) throw new Error('varint past the end');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const take = (length: number) => {
    if (offset + length > message.length) throw new Error('field past the end');
    offset += length;
    return message.subarray(offset - length, offset);
  };
  while (offset < message.length) {
    const key = varint();
    const wire = key % 8;
    const value =
      wire === 0
        ? varint()
        : wire === 1
          ? take(8)
          : wire === 2
            ? take(varint())
            : wire === 5
              ? take(4)
              : undefined;
    if (value === undefined) throw new Error(`wire type ${wire}`);
    fields.set(Math.floor(key / 8), [...(fields.get(Math.floor(key / 8)) ?? []), value]);
  }
  return fields;
}
const bytesOf = (fields: Fields, number: number) =>
  fields.get(number)?.at(-1) as Uint8Array | undefined;
const dataView = (bytes: Uint8Array) =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

interface ReadValue {
  tag: string;
  simpleValue?: number;
  pluginName?: string;
  strings: string[];
}
interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: ReadValue[];
}

function readEvent(record: Uint8Array): ReadEvent {
  const fields = fieldsOf(record);
  const wallTime = bytesOf(fields, 1);
  const event: ReadEvent = {
    wallTime: wallTime ? dataView(wallTime).getFloat64(0, true) : 0,
    step: (fields.get(2)?.at(-1) as number | undefined) ?? 0,
    values: [],
  };
  if (fields.has(3)) event.fileVersion = text(bytesOf(fields, 3));
  const summary = bytesOf(fields, 5);
  for (const valueBytes of summary ? (fieldsOf(summary).get(1) ?? []) : []) {
    const value = fieldsOf(valueBytes as Uint8Array);
    const read: ReadValue = { tag: text(bytesOf(value, 1)), strings: [] };
    const simple = bytesOf(value, 2);
    if (simple) read.simpleValue = dataView(simple).getFloat32(0, true);
    const tensor = bytesOf(value, 8);
    if (tensor)
      read.strings = (fieldsOf(tensor).get(8) ?? []).map((item) => text(item as Uint8Array));
    const metadata = bytesOf(value, 9);
    const plugin = metadata && bytesOf(fieldsOf(metadata), 1);
    if (plugin) read.pluginName = text(bytesOf(fieldsOf(plugin), 1));
    event.values.push(read);
  }
  return event;
}

/** An event file's events, CRCs checked; a record still being written at the end is left out. */
function readEventFile(path: string): ReadEvent[] {
  const file = readFileSync(path);
  const events: ReadEvent[] = [];
  for (let offset = 0; offset + 12 <= file.length; ) {
    const length = Number(file.readBigUInt64LE(offset));
    if (masked(crc32c(file.subarray(offset, offset + 8))) !== file.readUInt32LE(offset + 8)) {
      throw new Error(`${path}: bad length CRC at byte ${offset}`);
    }
    if (offset + 16 + length > file.length) break;
    const record = file.subarray(offset + 12, offset + 12 + length);
    if (masked(crc32c(record)) !== file.readUInt32LE(offset + 12 + length)) {
      throw new Error(`${path}: bad data CRC at byte ${offset}`);
    }
    events.push(readEvent(record));
    offset += 16 + length;
  }
  return events;
}

/** Every event file under a log directory, by folder ('.' for the directory itself). */
function readLogDirectory(root: string): Map<string, { files: string[]; events: ReadEvent[] }> {
  const folders = new Map<string, { files: string[]; events: ReadEvent[] }>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.includes('tfevents')) continue;
    const key = relative(root, entry.parentPath).split('\\').join('/') || '.';
    const found = folders.get(key) ?? { files: [], events: [] };
    found.files.push(entry.name);
    found.events.push(...readEventFile(join(entry.parentPath, entry.name)));
    folders.set(key, found);
  }
  return folders;
}

/** A folder's scalars: tag -> points in file order. */
function scalarsOf(
  events: readonly ReadEvent[],
): Map<string, Array<{ step: number; value: number }>> {
  const scalars = new Map<string, Array<{ step: number; value: number }>>();
  for (const event of events) {
    for (const value of event.values) {
      if (value.simpleValue === undefined) continue;
      const points = scalars.get(value.tag) ?? [];
      scalars.set(value.tag, points);
      points.push({ step: event.step, value: value.simpleValue });
    }
  }
  return scalars;
}

const exampleFolder = fileURLToPath(new URL('../../examples/tfjs-fit/', import.meta.url));
/** Bounds the whole fit; an Iris fit takes seconds even on a slow, shared machine. */
const EXAMPLE_TIMEOUT_MS = 90_000;
/** How often the files are looked at while the fit runs. */
const POLL_MS = 25;
const EPOCHS = 40;

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'livestep-tensorboard-e2e-'));
});
afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

interface FitOutcome {
  code: number | null;
  stderr: string;
  /** Train losses seen in the files while the process was still running, per look. */
  seenWhileRunning: number[];
}

/** The train folder's losses, or none when the files are not there yet. */
function trainLosses(logdir: string): number {
  try {
    const train = readLogDirectory(logdir).get('train');
    return scalarsOf(train?.events ?? []).get('loss')?.length ?? 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** Runs the example and looks at the event files until it exits (bounded). */
async function fit(
  backend: 'cpu' | 'wasm',
  logdir: string,
  runFolder: string,
): Promise<FitOutcome> {
  const child: ChildProcess = spawn(process.execPath, ['src/main.mjs'], {
    cwd: exampleFolder,
    env: {
      ...process.env,
      TFJS_BACKEND: backend,
      EPOCHS: String(EPOCHS),
      LIVESTEP_DIR: runFolder,
      LIVESTEP_MODEL_PATH: join(folder, `model-${backend}`, 'iris.json'),
      LIVESTEP_TENSORBOARD_DIR: logdir,
      LIVESTEP_URL: '',
      DVC_STUDIO_TOKEN: '',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const seenWhileRunning: number[] = [];
  const deadline = Date.now() + EXAMPLE_TIMEOUT_MS;
  try {
    while (!done && Date.now() < deadline) {
      const seen = trainLosses(logdir);
      if (!done && child.exitCode === null) seenWhileRunning.push(seen);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    if (!done) child.kill('SIGKILL');
  }
  return { code: await exited, stderr, seenWhileRunning };
}

/** A directory-sink TSV's value column, as numbers (`nan`, `inf` as such). */
async function tsvValues(path: string): Promise<{ steps: number[]; values: number[] }> {
  const [, ...lines] = (await readFile(path, 'utf8')).trim().split('\n');
  const cells = lines.map((line) => line.split('\t'));
  const special: Record<string, number> = { nan: Number.NaN, inf: Infinity, '-inf': -Infinity };
  const number = (cell: string) => special[cell] ?? Number(cell);
  return { steps: cells.map((row) => Number(row[1])), values: cells.map((row) => number(row[2]!)) };
}

describe.each(['cpu', 'wasm'] as const)(
  'examples/tfjs-fit on the %s backend with LIVESTEP_TENSORBOARD_DIR',
  (backend) => {
    let logdir: string;
    let runFolder: string;
    let outcome: FitOutcome;
    let folders: Map<string, { files: string[]; events: ReadEvent[] }>;

    beforeAll(async () => {
      logdir = join(folder, `tb-${backend}`);
      runFolder = join(folder, `run-${backend}`);
      outcome = await fit(backend, logdir, runFolder);
      folders = readLogDirectory(logdir);
    });

    it('trains to the end, with nothing on stderr about the sink', () => {
      expect(outcome.code, outcome.stderr).toBe(0);
      expect(outcome.stderr).not.toMatch(/tensorboard/i);
    });

    it('the files grow while it trains: epochs are readable before the fit ends', () => {
      const partial = outcome.seenWhileRunning.filter((count) => count > 0 && count < EPOCHS);
      expect(
        partial.length,
        `looks while running: ${outcome.seenWhileRunning.join(',')}`,
      ).toBeGreaterThan(0);
      // Never fewer than at an earlier look: records are only appended.
      const growing = outcome.seenWhileRunning.every(
        (count, index) => index === 0 || count >= outcome.seenWhileRunning[index - 1]!,
      );
      expect(growing).toBe(true);
    });

    it('writes train/ and val/ event files, each starting with brain.Event:2', () => {
      expect([...folders.keys()].sort()).toEqual(['.', 'train', 'val']);
      for (const { files, events } of folders.values()) {
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^events\.out\.tfevents\.\d{10}\..+\.v2$/);
        expect(events[0]!.fileVersion).toBe('brain.Event:2');
      }
    });

    it("every epoch's loss and accuracy, train and validation, equal what the directory sink wrote", async () => {
      const checks: Array<[string, string, string]> = [
        ['train', 'loss', 'train/loss.tsv'],
        ['train', 'acc', 'train/acc.tsv'],
        ['val', 'loss', 'eval/loss.tsv'],
        ['val', 'acc', 'eval/acc.tsv'],
      ];
      for (const [tbFolder, tag, tsv] of checks) {
        const points = scalarsOf(folders.get(tbFolder)!.events).get(tag)!;
        const expected = await tsvValues(join(runFolder, 'plots', 'metrics', tsv));
        expect(expected.steps).toEqual(Array.from({ length: EPOCHS }, (_, epoch) => epoch));
        expect(points.map((point) => point.step)).toEqual(expected.steps);
        expect(points.map((point) => point.value)).toEqual(expected.values.map(Math.fround));
      }
    });

    it('writes the params as text', () => {
      // Rewritten whenever they change: the last one holds them all (the fit's among them).
      const params = folders
        .get('.')!
        .events.flatMap((event) => event.values)
        .findLast((value) => value.tag === 'params');
      expect(params?.pluginName).toBe('text');
      expect(params?.strings[0]).toContain('"epochs"');
    });
  },
);

/** The README's mapping of a livestep name to (folder, tag), restated from its text. */
function documentedPlace(name: string): [string, string] {
  const segments = name.split('/');
  const index = segments.findIndex(
    (segment, at) =>
      at < segments.length - 1 && ['train', 'eval', 'val', 'validation'].includes(segment),
  );
  if (index >= 0) {
    const folder = [...segments.slice(0, index), segments[index] === 'train' ? 'train' : 'val'];
    return [folder.join('/'), segments.slice(index + 1).join('/')];
  }
  const last = segments.at(-1)!;
  if (/^val_./.test(last)) return [[...segments.slice(0, -1), 'val'].join('/'), last.slice(4)];
  return ['.', name];
}

/** Every series the directory sink wrote for a run equals its TensorBoard scalars. */
async function expectSameSeries(runFolder: string, logdir: string): Promise<number> {
  const folders = readLogDirectory(logdir);
  const root = join(runFolder, 'plots', 'metrics');
  const tsvs = readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) =>
    entry.isFile(),
  );
  for (const entry of tsvs) {
    const series = relative(root, join(entry.parentPath, entry.name))
      .split('\\')
      .join('/')
      .replace(/\.tsv$/, '');
    const [folder, tag] = documentedPlace(series);
    const expected = await tsvValues(join(entry.parentPath, entry.name));
    const points = scalarsOf(folders.get(folder)?.events ?? []).get(tag) ?? [];
    expect(
      points.map((point) => point.step),
      series,
    ).toEqual(expected.steps);
    expect(
      points.map((point) => point.value),
      series,
    ).toEqual(expected.values.map(Math.fround));
  }
  return tsvs.length;
}

describe('the loop and onnx adapters with LIVESTEP_TENSORBOARD_DIR', () => {
  const run = (example: string, script: string, env: Record<string, string>) =>
    promisify(execFile)(process.execPath, [script], {
      cwd: fileURLToPath(new URL(`../../examples/${example}/`, import.meta.url)),
      env: { ...process.env, LIVESTEP_URL: '', DVC_STUDIO_TOKEN: '', ...env },
      timeout: EXAMPLE_TIMEOUT_MS,
    });

  it('examples/custom-loop (track() from @livestep/loop): every series, system metrics included', async () => {
    const runFolder = join(folder, 'loop-run');
    const logdir = join(folder, 'loop-tb');
    await run('custom-loop', 'src/train.mjs', {
      LIVESTEP_DIR: runFolder,
      LIVESTEP_TENSORBOARD_DIR: logdir,
      EPOCHS: '8',
    });
    expect(await expectSameSeries(runFolder, logdir)).toBeGreaterThanOrEqual(4);
  });

  it('examples/onnx-eval (evaluate() from @livestep/onnx): two runs, one log directory each through {run}', async () => {
    const runsFolder = join(folder, 'onnx-runs');
    const logdir = join(folder, 'onnx-tb', '{run}');
    await run('onnx-eval', 'src/main.mjs', {
      LIVESTEP_DIR: runsFolder,
      LIVESTEP_TENSORBOARD_DIR: logdir,
    });
    for (const name of ['mlp', 'weak']) {
      const count = await expectSameSeries(join(runsFolder, name), join(folder, 'onnx-tb', name));
      expect(count).toBeGreaterThan(10);
    }
  });
});
