import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  builtEntry,
  importUrl,
  runNodeScript,
  startTestRun,
  writeScript,
} from '@livestep/test-support';
import { describe, expect, it, vi } from 'vitest';
import type { MetricEvent } from '../protocol/events.js';
import { parseNvidiaSmi, SYSTEM_METRICS, startSystemMonitor } from './system-monitor.js';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
const GB = 1024 ** 3;
/** Interval long enough that no timer sample lands inside a test: every sample is taken by hand. */
const MANUAL_ONLY_INTERVAL_MS = 60_000;

/** The metrics every sample logs on any machine (the GPU ones only where nvidia-smi answers). */
const HOST_METRICS = [
  'system/cpu/count',
  'system/cpu/usage (%)',
  'system/cpu/parallelization (%)',
  'system/ram/usage (%)',
  'system/ram/usage (GB)',
  'system/ram/total (GB)',
  'system/process/cpu/usage (%)',
  'system/process/ram/rss (GB)',
  'system/process/heap/used (GB)',
  'system/event-loop/delay/p99 (ms)',
];

function busyFor(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until) {
    // spin: the CPU counters must move
  }
}

function latest(events: MetricEvent[]): Map<string, MetricEvent> {
  return new Map(events.map((event) => [event.name, event]));
}

/** A fake nvidia-smi: a shell script printing `lines`, or failing from call `failFrom` on. */
function fakeNvidiaSmi(lines: string[], options: { failFrom?: number } = {}): string {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-nvidia-smi-'));
  const script = join(folder, 'nvidia-smi');
  const counter = join(folder, 'calls');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `echo call >> "${counter}"`,
      `echo "$@" > "${join(folder, 'arguments')}"`,
      options.failFrom === undefined
        ? ''
        : `if [ "$(wc -l < "${counter}")" -ge ${options.failFrom} ]; then echo "NVIDIA-SMI has failed" >&2; exit 9; fi`,
      `printf '${lines.join('\\n')}\\n'`,
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return script;
}

describe('startSystemMonitor', () => {
  it('logs DVCLive’s system metric names with their units, at the run’s current step', async () => {
    const { run, sink, warnings } = startTestRun();
    run.setStep(3);
    const monitor = startSystemMonitor(run, { intervalMs: MANUAL_ONLY_INTERVAL_MS, gpu: false });
    busyFor(60);
    monitor.sample();
    monitor.stop();
    await run.end();

    const metrics = sink.metrics();
    expect([...new Set(metrics.map((event) => event.name))].sort()).toEqual(
      [...HOST_METRICS].sort(),
    );
    expect(Object.values(SYSTEM_METRICS)).toEqual(expect.arrayContaining(HOST_METRICS));
    expect(new Set(metrics.map((event) => event.step))).toEqual(new Set([3]));
    const values = new Map(metrics.map((event) => [event.name, event.value as number]));

    expect(values.get('system/cpu/count')).toBe(os.cpus().length);
    // GB is bytes / 1024^3, as in DVCLive.
    expect(values.get('system/ram/total (GB)')).toBeCloseTo(os.totalmem() / GB, 3);
    const ramUsed = values.get('system/ram/usage (GB)')!;
    expect(ramUsed).toBeGreaterThan(0);
    expect(ramUsed).toBeLessThan(values.get('system/ram/total (GB)')!);
    expect(values.get('system/ram/usage (%)')).toBeCloseTo(
      (100 * ramUsed) / values.get('system/ram/total (GB)')!,
      0,
    );
    for (const percent of ['system/cpu/usage (%)', 'system/cpu/parallelization (%)']) {
      expect(values.get(percent)).toBeGreaterThanOrEqual(0);
      expect(values.get(percent)).toBeLessThanOrEqual(100);
    }
    // This process spun for most of the window. On a loaded machine its share of a core can be
    // small, but a percentage (not a 0..1 fraction) of real work is well above 1.
    expect(values.get('system/process/cpu/usage (%)')).toBeGreaterThan(2);
    const rss = values.get('system/process/ram/rss (GB)')!;
    expect(rss * GB).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(values.get('system/ram/total (GB)')!);
    const heap = values.get('system/process/heap/used (GB)')!;
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThanOrEqual(rss);
    expect(values.get('system/event-loop/delay/p99 (ms)')).toBeGreaterThanOrEqual(0);
    expect(warnings).toEqual([]);
  });

  it('logs the counts and totals once, the changing values at every sample', async () => {
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: MANUAL_ONLY_INTERVAL_MS, gpu: false });
    monitor.sample();
    run.nextStep();
    monitor.sample();
    monitor.stop();
    await run.end();
    expect(sink.metrics('system/cpu/count')).toHaveLength(1);
    expect(sink.metrics('system/ram/total (GB)')).toHaveLength(1);
    expect(sink.metrics('system/ram/usage (GB)').map((event) => event.step)).toEqual([0, 1]);
    expect(sink.metrics('system/cpu/usage (%)').map((event) => event.step)).toEqual([0, 1]);
  });

  it('stop() takes one last sample when none was taken, and nothing is logged after it', async () => {
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: 100, gpu: false });
    monitor.stop();
    monitor.stop();
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    monitor.sample();
    monitor.sampleIfDue();
    await run.end();
    const metrics = sink.metrics();
    expect([...new Set(metrics.map((event) => event.name))].sort()).toEqual(
      [...HOST_METRICS].sort(),
    );
    expect(metrics).toHaveLength(HOST_METRICS.length);
  });

  it('stop() after a recent sample adds no short, noisy one', async () => {
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: MANUAL_ONLY_INTERVAL_MS, gpu: false });
    monitor.sample();
    monitor.stop();
    await run.end();
    expect(sink.metrics('system/ram/usage (GB)')).toHaveLength(1);
  });

  it('samples on its timer while the event loop turns', async () => {
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: 100, gpu: false });
    await vi.waitFor(() => expect(sink.metrics('system/ram/usage (%)').length).toBeGreaterThan(2), {
      timeout: 5_000,
    });
    monitor.stop();
    await run.end();
  });

  it('sampleIfDue() samples only once the interval has passed (for loops that never yield)', async () => {
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: 100, gpu: false });
    monitor.sampleIfDue();
    await run.flush();
    expect(sink.metrics('system/ram/usage (%)')).toHaveLength(0);
    busyFor(120);
    monitor.sampleIfDue();
    monitor.sampleIfDue();
    await run.flush();
    expect(sink.metrics('system/ram/usage (%)')).toHaveLength(1);
    // Blocked for the whole window: the event loop's delay is about that long.
    expect(
      sink.metrics('system/event-loop/delay/p99 (ms)')[0]!.value as number,
    ).toBeGreaterThanOrEqual(100);
    monitor.stop();
    await run.end();
  });

  it('stops by itself once the run has ended, without a warning about logging after end', async () => {
    const { run, sink, warnings } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: 100, gpu: false });
    await run.end();
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 250));
    monitor.sample();
    monitor.stop();
    expect(sink.metrics()).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('never throws into the loop: a failing sample is one warning, and sampling goes on', () => {
    const warnings: string[] = [];
    let calls = 0;
    const run = {
      ended: false,
      logMetric() {
        calls++;
        throw new Error('disk on fire');
      },
    };
    const monitor = startSystemMonitor(run, {
      intervalMs: MANUAL_ONLY_INTERVAL_MS,
      gpu: false,
      onWarning: (message) => warnings.push(message),
    });
    expect(() => monitor.sample()).not.toThrow();
    expect(() => monitor.sample()).not.toThrow();
    monitor.stop();
    expect(calls).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/system metrics sample failed \(disk on fire\)/);
  });

  it('names the field and the fix for a bad interval or gpu option', () => {
    const { run } = startTestRun();
    expect(() => startSystemMonitor(run, { intervalMs: 5 })).toThrow(
      /intervalMs got 5; pass a number of milliseconds >= 100/,
    );
    expect(() => startSystemMonitor(run, { intervalMs: Number.NaN })).toThrow(/intervalMs/);
    expect(() => startSystemMonitor(run, { gpu: 'yes' as never })).toThrow(
      /gpu got "yes"; pass 'auto' or false/,
    );
    void run.end();
  });
});

describe('GPU metrics from nvidia-smi', () => {
  it('logs per-GPU usage and memory under DVCLive’s names with the GPU index', async () => {
    const nvidiaSmiPath = fakeNvidiaSmi(['0, 35, 1536, 16384', '1, [N/A], 512, 8192']);
    const { run, sink } = startTestRun();
    const warnings: string[] = [];
    const onWarning = (message: string) => warnings.push(message);
    const monitor = startSystemMonitor(run, { intervalMs: 100, nvidiaSmiPath, onWarning });
    await vi.waitFor(() => expect(sink.metrics('system/gpu/count')).toHaveLength(1), {
      timeout: 5_000,
    });
    // At least two samples; batches arrive every 250 ms, so the count may step past 2 at once.
    await vi.waitFor(
      () => expect(sink.metrics('system/vram/usage (GB)/1').length).toBeGreaterThanOrEqual(2),
      {
        timeout: 5_000,
      },
    );
    monitor.stop();
    await run.end();

    const values = latest(sink.metrics());
    const value = (name: string) => values.get(name)?.value;
    expect(value('system/gpu/count')).toBe(2);
    expect(value('system/gpu/usage (%)/0')).toBe(35);
    // "[N/A]": the GPU does not report utilization; nothing is made up.
    expect(values.has('system/gpu/usage (%)/1')).toBe(false);
    expect(value('system/vram/usage (GB)/0')).toBe(1.5);
    expect(value('system/vram/total (GB)/0')).toBe(16);
    expect(value('system/vram/usage (%)/0')).toBe(9.38);
    expect(value('system/vram/usage (GB)/1')).toBe(0.5);
    expect(value('system/vram/total (GB)/1')).toBe(8);
    expect(value('system/vram/usage (%)/1')).toBe(6.25);
    // Counts and totals once; usage at every sample.
    expect(sink.metrics('system/vram/total (GB)/0')).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it('asks nvidia-smi for exactly the fields it parses, in CSV without header and units', async () => {
    const nvidiaSmiPath = fakeNvidiaSmi(['0, 1, 2, 3']);
    const { run, sink } = startTestRun();
    const monitor = startSystemMonitor(run, { intervalMs: 100, nvidiaSmiPath });
    await vi.waitFor(() => expect(sink.metrics('system/gpu/count')).toHaveLength(1), {
      timeout: 5_000,
    });
    monitor.stop();
    await run.end();
    const { readFileSync } = await import('node:fs');
    const argumentsFile = join(nvidiaSmiPath, '..', 'arguments');
    expect(readFileSync(argumentsFile, 'utf8').trim()).toBe(
      '--query-gpu=index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits',
    );
  });

  it('stays quiet and logs no GPU metric where nvidia-smi is missing', async () => {
    const { run, sink } = startTestRun();
    const warnings: string[] = [];
    const monitor = startSystemMonitor(run, {
      intervalMs: 100,
      nvidiaSmiPath: join(tmpdir(), 'livestep-no-such-nvidia-smi'),
      onWarning: (message) => warnings.push(message),
    });
    await vi.waitFor(() => expect(sink.metrics('system/ram/usage (%)').length).toBeGreaterThan(2), {
      timeout: 5_000,
    });
    monitor.stop();
    await run.end();
    expect(sink.metrics().filter((event) => /gpu|vram/.test(event.name))).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('warns once and turns GPU metrics off when nvidia-smi stops answering', async () => {
    const nvidiaSmiPath = fakeNvidiaSmi(['0, 50, 1024, 2048'], { failFrom: 3 });
    const { run, sink } = startTestRun();
    const warnings: string[] = [];
    const onWarning = (message: string) => warnings.push(message);
    const monitor = startSystemMonitor(run, { intervalMs: 100, nvidiaSmiPath, onWarning });
    await vi.waitFor(() => expect(warnings).toHaveLength(1), { timeout: 5_000 });
    // What was sampled before the failure may still wait in the run's queue: deliver it first.
    await run.flush();
    const gpuPoints = sink.metrics('system/gpu/usage (%)/0').length;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 400));
    monitor.stop();
    await run.end();
    expect(warnings[0]).toBe(
      'livestep: nvidia-smi stopped answering (exit code 9: NVIDIA-SMI has failed); GPU metrics are off for the rest of the run',
    );
    expect(gpuPoints).toBeGreaterThan(0);
    expect(sink.metrics('system/gpu/usage (%)/0')).toHaveLength(gpuPoints);
  });
});

describe('parseNvidiaSmi', () => {
  it('reads one GPU per line and rejects anything else', () => {
    expect(parseNvidiaSmi('0, 35, 1536, 16384\r\n1, [N/A], 10, 20\n')).toEqual([
      { index: 0, usagePercent: 35, memoryUsedMib: 1536, memoryTotalMib: 16384 },
      { index: 1, usagePercent: undefined, memoryUsedMib: 10, memoryTotalMib: 20 },
    ]);
    expect(parseNvidiaSmi('')).toEqual([]);
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate')).toBe(
      undefined,
    );
    expect(parseNvidiaSmi('0, 35, n/a, 16384')).toBe(undefined);
  });
});

describe('in a real process', () => {
  it('never keeps a finished script alive: the timer and a hung nvidia-smi are unref’d', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-monitor-exit-'));
    const hungNvidiaSmi = join(folder, 'nvidia-smi');
    writeFileSync(hungNvidiaSmi, '#!/bin/sh\nsleep 30\n');
    chmodSync(hungNvidiaSmi, 0o755);
    const { path: script } = writeScript(
      `import { createNoopSink, startRun, startSystemMonitor } from ${importUrl(builtPackage)};
const run = startRun({ sinks: [createNoopSink()], exitHooks: false, collectGit: false });
startSystemMonitor(run, { intervalMs: 100, nvidiaSmiPath: ${JSON.stringify(hungNvidiaSmi)} });
console.log('started');
`,
      { prefix: 'monitor-exit' },
    );
    const started = performance.now();
    const outcome = await runNodeScript(script);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toBe('started\n');
    // Far below the fake nvidia-smi's 30 s and the 3 s query timeout.
    expect(performance.now() - started).toBeLessThan(2_500);
  });
});

describe('stopping while nvidia-smi has not even started', () => {
  it('a monitor stopped in the tick it started never signals its own process group', async () => {
    // Node sends SIGTERM to the whole process group when kill() reaches a child whose spawn has
    // not reported yet. The scenario runs in a process group of its own, so that a regression
    // kills the scenario (and is seen), not the test runner.
    const { path: script } = writeScript(
      (
        folder,
      ) => `import { createMemorySink, startRun, startSystemMonitor } from ${importUrl(builtPackage)};
const run = startRun({ sinks: [createMemorySink()], exitHooks: false, collectGit: false });
for (let index = 0; index < 20; index++) {
  const monitor = startSystemMonitor(run, { nvidiaSmiPath: ${JSON.stringify(join(folder, 'missing-nvidia-smi'))} });
  monitor.stop();
}
await run.end();
setTimeout(() => console.log('still alive'), 200);
`,
      { prefix: 'monitor-kill' },
    );
    const { code, signal, stdout: output } = await runNodeScript(script, { detached: true });
    expect({ code, signal, output: output.trim() }).toEqual({
      code: 0,
      signal: null,
      output: 'still alive',
    });
  });
});
