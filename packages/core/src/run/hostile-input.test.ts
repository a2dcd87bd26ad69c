/**
 * Names and keys from an attacker or an unlucky user, through the Run API into every built-in
 * sink: each is refused with an error naming the field, nothing reaches Object.prototype, nothing
 * is written outside the run's folder, and no other event is lost.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FakeLivestepServer } from '@livestep/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { parseJsonl } from '../protocol/jsonl-record.js';
import { createDirectorySink } from '../sinks/directory-sink.js';
import { createHttpSink } from '../sinks/http-sink.js';
import { createJsonlSink } from '../sinks/jsonl-sink.js';
import { createMemorySink } from '../sinks/memory-sink.js';
import { Run } from './run.js';

const prototypeKeys = () => Object.keys(Object.prototype as Record<string, unknown>);

function listFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' }).map((name) =>
    relative(folder, join(folder, name)),
  );
}

describe('hostile names and keys, through every sink', () => {
  let receiver: FakeLivestepServer | undefined;
  afterEach(async () => {
    await receiver?.stop();
    receiver = undefined;
  });

  const long = (character: string, count: number) => character.repeat(count);
  const hostile: Array<[string, (run: Run) => void, RegExp]> = [
    [
      'a metric named CON (a Windows device name)',
      (run) => run.logMetric('CON', 1),
      /metric name "CON" has the path segment "CON", a device name on Windows/,
    ],
    [
      'a plot named eval/nul.json',
      (run) => run.logPlot('eval/nul.json', { kind: 'line', rows: [{ x: 1, y: 2 }] }),
      /"nul\.json", a device name on Windows/,
    ],
    [
      'a metric named __proto__/isAdmin',
      (run) => run.logMetric('__proto__/isAdmin', 1),
      /metric name "__proto__\/isAdmin" has the reserved path segment "__proto__"/,
    ],
    [
      'a metric named constructor',
      (run) => run.logMetric('constructor', 1),
      /reserved path segment "constructor"/,
    ],
    [
      'a metric named a/prototype/b',
      (run) => run.logMetric('a/prototype/b', 1),
      /reserved path segment "prototype"/,
    ],
    [
      'a metric named step',
      (run) => run.logMetric('step', 1),
      /metric name "step" is reserved: metrics\.json keeps the step/,
    ],
    [
      'a metric under step/',
      (run) => run.logMetric('step/x', 1),
      /metric name "step\/x" is reserved/,
    ],
    [
      'a plot named __proto__',
      (run) => run.logPlot('__proto__', { kind: 'line', rows: [{ x: 1, y: 2 }] }),
      /plot name "__proto__" has the reserved path segment/,
    ],
    [
      'a param key __proto__',
      (run) => run.logParams(JSON.parse('{"__proto__": {"isAdmin": 1}}')),
      /param "__proto__" uses the reserved key "__proto__"/,
    ],
    [
      'a nested param key constructor',
      (run) => run.logParams({ model: { constructor: 1 } }),
      /param "model\.constructor" uses the reserved key/,
    ],
    [
      'logParam("a/__proto__/b")',
      (run) => run.logParam('a/__proto__/b', 1),
      /param name "a\/__proto__\/b" has the reserved path segment/,
    ],
    [
      'a label key __proto__',
      (run) => run.logMetric('eval/f1', 1, { labels: JSON.parse('{"__proto__": "x"}') }),
      /metric "eval\/f1" labels has the reserved label key "__proto__"/,
    ],
    [
      'a 130-character é segment (260 bytes)',
      (run) => run.logMetric(`val/${long('é', 130)}`, 1),
      /has a path segment of 260 bytes in UTF-8; file systems allow 200/,
    ],
    [
      'a 70-character CJK segment (210 bytes)',
      (run) => run.logMetric(`val/${long('中', 70)}`, 1),
      /path segment of 210 bytes/,
    ],
    [
      'a name of 200 emoji (800 bytes, in segments)',
      (run) => run.logMetric(Array.from({ length: 20 }, () => long('😀', 5)).join('/'), 1),
      /is \d+ characters long|is \d+ bytes long/,
    ],
    [
      'a 10,000-character label value',
      (run) => run.logMetric('eval/f1', 1, { labels: { class: long('x', 10_000) } }),
      /label "class" is 10000 bytes long; the limit is 128/,
    ],
    [
      'a 10,000-character label key',
      (run) => run.logMetric('eval/f1', 1, { labels: { [long('k', 10_000)]: 'x' } }),
      /label key of 10000 bytes/,
    ],
    [
      'a label key with a slash',
      (run) => run.logMetric('eval/f1', 1, { labels: { 'a/b': 'x' } }),
      /label key "a\/b"/,
    ],
    [
      'a label value with a newline',
      (run) => run.logMetric('eval/f1', 1, { labels: { class: 'a\nb' } }),
      /contains a control character/,
    ],
    [
      'an invalid Date param',
      (run) => run.logParams({ started: new Date('not a date') }),
      /param "started" is an invalid Date/,
    ],
  ];

  it.each(hostile)(
    '%s is refused with a clear error, and the rest of the run is kept',
    async (_, log, message) => {
      receiver = await new FakeLivestepServer().start();
      const root = mkdtempSync(join(tmpdir(), 'livestep-hostile-'));
      const memory = createMemorySink();
      const run = new Run({
        experiment: 'hostile',
        name: 'names',
        exitHooks: false,
        collectGit: false,
        sinks: [
          createDirectorySink({ directory: join(root, 'run') }),
          createJsonlSink({ path: join(root, 'run.jsonl') }),
          createHttpSink({ url: receiver.url }),
          memory,
        ],
      });
      run.logMetric('train/loss', 0.5);
      expect(() => log(run)).toThrow(message);
      run.logMetric('train/loss', 0.25, { step: 1 });
      run.logParams({ kept: true });
      const report = await run.end();

      expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(prototypeKeys()).toEqual([]);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
      // Nothing outside the run's folder but the JSONL record and dvc.yaml beside it.
      expect(readdirSync(root).sort()).toEqual(['dvc.yaml', 'run', 'run.jsonl']);
      expect(listFiles(join(root, 'run')).sort()).toEqual([
        'livestep.json',
        'metrics.json',
        'params.yaml',
        'plots',
        'plots/metrics',
        'plots/metrics/train',
        'plots/metrics/train/loss.tsv',
      ]);
      // Every other event arrived everywhere.
      expect(
        readFileSync(join(root, 'run/plots/metrics/train/loss.tsv'), 'utf8').split('\n'),
      ).toHaveLength(4);
      expect(JSON.parse(readFileSync(join(root, 'run/metrics.json'), 'utf8'))).toEqual({
        train: { loss: 0.25 },
        step: 1,
      });
      expect(YAML.parse(readFileSync(join(root, 'run/params.yaml'), 'utf8'))).toEqual({
        kept: true,
      });
      const [record] = parseJsonl(readFileSync(join(root, 'run.jsonl'), 'utf8'));
      expect(record!.events.map((event) => event.kind)).toEqual([
        'start',
        'metric',
        'metric',
        'params',
        'done',
      ]);
      expect([...receiver.events.values()].map((event) => event.kind).sort()).toEqual([
        'done',
        'metric',
        'metric',
        'params',
        'start',
      ]);
      expect(memory.metrics('train/loss')).toHaveLength(2);
    },
  );

  it('a metric name cannot reach Object.prototype, even from a summary written by someone else', async () => {
    // A metrics.json with a "__proto__" key (JSON.parse keeps it as an own key) is resumed.
    const root = mkdtempSync(join(tmpdir(), 'livestep-hostile-'));
    const directory = join(root, 'run');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(directory, { recursive: true });
    writeFileSync(
      join(directory, 'metrics.json'),
      '{"__proto__": {"isAdmin": 1}, "loss": 2, "step": 3}',
    );
    writeFileSync(join(directory, 'params.yaml'), '__proto__:\n  polluted: 1\nlr: 0.1\n');
    const run = new Run({ exitHooks: false, collectGit: false, resume: true, directory });
    run.logMetric('loss', 1);
    run.logParams({ lr: 0.2 });
    await run.end();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(prototypeKeys()).toEqual([]);
    expect(JSON.parse(readFileSync(join(directory, 'metrics.json'), 'utf8')).loss).toBe(1);
  });
});
