/**
 * Live latency: from `run.logMetric` in a client process (core's HTTP sink) to the Server-Sent
 * Events frame carrying that point at a subscriber of a real `livestep serve` process; p50 and
 * p95 over SAMPLES points logged at LOG_INTERVAL_MS, each point's value being the wall-clock time
 * it was logged (one machine, one clock).
 *
 * Baseline in the same run: a one-point batch POSTed straight to the server, timed to its frame:
 * the server's own share (parse, validate, commit, publish). The difference is the client's
 * pipeline (the dispatcher's flush interval, ~250 ms, dominates).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printResult, round, target } from './lib/report.mjs';
import { ensureBuilt, repositoryRoot, startServe, stopServe } from './lib/serve-process.mjs';

const SAMPLES = 200;
const LOG_INTERVAL_MS = 50;
const BASELINE_SAMPLES = 50;
/** The target: p95 at most 500 ms (TensorBoard's and MLflow's pages refresh every 30 s, Aim's every 10 s). */
const P95_LIMIT_MS = 500;
const CLIENT_TIMEOUT_MS = 60_000;

const now = () => performance.timeOrigin + performance.now();

function percentile(values, fraction) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/** Subscribes to the stream and calls `onPoint(name, step, value, receivedAt)` for every point. */
async function subscribe(url, onPoint) {
  const controller = new AbortController();
  const response = await fetch(`${url}/api/v1/stream`, { signal: controller.signal });
  const decoder = new TextDecoder();
  void (async () => {
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const receivedAt = now();
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data !== undefined && block.includes('event: batch')) {
            const frame = JSON.parse(data.slice(6));
            for (const [name, points] of Object.entries(frame.points)) {
              for (const [step, value] of points) onPoint(name, step, value, receivedAt);
            }
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted at the end
    }
  })();
  return () => controller.abort();
}

const CLIENT = `
import { createHttpSink, Run } from '@livestep/core';
const run = new Run({ experiment: 'bench', name: 'live', exitHooks: false, collectGit: false, collectMachine: false,
  sinks: [createHttpSink({ url: process.env.LIVESTEP_URL, spoolDirectory: process.env.SPOOL, onWarning() {} })] });
for (let step = 0; step < ${SAMPLES}; step++) {
  run.logMetric('live/logged-at', performance.timeOrigin + performance.now(), { step });
  await new Promise((resolve) => setTimeout(resolve, ${LOG_INTERVAL_MS}));
}
const report = await run.end();
if (!report.ok) process.exit(1);
`;

ensureBuilt();
const work = mkdtempSync(join(tmpdir(), 'livestep-bench-live-'));
const { child: server, url } = await startServe({ data: join(work, 'data') });
try {
  // Baseline: the server alone.
  const baseline = [];
  const runId = crypto.randomUUID();
  const waiting = new Map();
  const unsubscribeBaseline = await subscribe(url, (name, step, _value, receivedAt) => {
    if (name === 'baseline') waiting.get(step)?.(receivedAt);
  });
  for (let step = 0; step < BASELINE_SAMPLES; step++) {
    const arrived = new Promise((resolve) => waiting.set(step, resolve));
    const started = now();
    const response = await fetch(`${url}/api/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        protocol: 1,
        run: { id: runId, experiment: 'bench', name: 'baseline' },
        events: [
          {
            id: crypto.randomUUID(),
            seq: step,
            ts: Date.now(),
            kind: 'metric',
            name: 'baseline',
            value: step,
            step,
          },
        ],
      }),
    });
    await response.arrayBuffer();
    baseline.push((await arrived) - started);
  }
  unsubscribeBaseline();

  const latencies = [];
  const unsubscribe = await subscribe(url, (name, _step, value, receivedAt) => {
    if (name === 'live/logged-at') latencies.push(receivedAt - value);
  });
  const client = spawn(process.execPath, ['--input-type=module', '-e', CLIENT], {
    cwd: join(repositoryRoot, 'bench'),
    env: { ...process.env, LIVESTEP_URL: url, SPOOL: join(work, 'spool') },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const killer = setTimeout(() => client.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
  const code = await new Promise((resolve) => client.on('exit', resolve));
  clearTimeout(killer);
  await new Promise((resolve) => setTimeout(resolve, 500));
  unsubscribe();
  if (code !== 0 || latencies.length !== SAMPLES) {
    throw new Error(
      `the client exited ${code}; ${latencies.length} of ${SAMPLES} points reached the subscriber`,
    );
  }
  const p50 = percentile(latencies, 0.5);
  const p95 = percentile(latencies, 0.95);
  const baseP50 = percentile(baseline, 0.5);
  const baseP95 = percentile(baseline, 0.95);
  console.log(
    `logMetric -> SSE frame: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (${SAMPLES} points)`,
  );
  console.log(
    `POST -> SSE frame (the server alone): p50 ${baseP50.toFixed(1)} ms, p95 ${baseP95.toFixed(1)} ms`,
  );
  printResult({
    name: 'server-live-latency',
    metrics: {
      p50Ms: round(p50, 1),
      p95Ms: round(p95, 1),
      serverOnlyP50Ms: round(baseP50, 1),
      serverOnlyP95Ms: round(baseP95, 1),
    },
    targets: [target('logMetric to SSE frame p95 (ms)', round(p95, 1), P95_LIMIT_MS)],
  });
} finally {
  await stopServe(server);
  rmSync(work, { recursive: true, force: true });
}
