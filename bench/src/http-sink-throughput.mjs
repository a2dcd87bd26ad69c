/**
 * HTTP sink: end-to-end throughput to a local receiver (points per second, from the first
 * logMetric to the receiver having stored every event), and peak memory while the receiver is
 * down (the sink must spill to its spool instead of growing without bound).
 *
 * Baseline in the same run: the same points through the JSONL sink to a local file, the cheapest
 * sink there is, so the ratio shows what the network path costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHttpSink, createJsonlSink, Run } from '@livestep/core';

const POINTS = 200_000;
const ROUNDS = 5;
const OUTAGE_POINTS = 1_000_000;
/** Yield to the event loop this often, as a training loop does between steps. */
const YIELD_EVERY = 1_000;

function startReceiver() {
  const seen = new Set();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      for (const event of JSON.parse(body.toString('utf8')).events) seen.add(event.id);
      response.writeHead(200).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, seen, url: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}

async function logPoints(run, points) {
  for (let index = 0; index < points; index++) {
    run.logMetric(index % 2 ? 'train/loss' : 'train/accuracy', index / points, {
      step: index >> 1,
    });
    if (index % YIELD_EVERY === YIELD_EVERY - 1) await new Promise(setImmediate);
  }
}

const options = { experiment: 'bench', exitHooks: false, collectGit: false, onWarning() {} };
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function httpRound(receiver) {
  receiver.seen.clear();
  const folder = mkdtempSync(join(tmpdir(), 'livestep-bench-http-'));
  const run = new Run({
    ...options,
    sinks: [createHttpSink({ url: receiver.url, spoolDirectory: folder, onWarning() {} })],
  });
  const started = performance.now();
  await logPoints(run, POINTS);
  const report = await run.end();
  const seconds = (performance.now() - started) / 1000;
  rmSync(folder, { recursive: true, force: true });
  if (!report.ok || receiver.seen.size !== POINTS + 2) {
    throw new Error(`http round lost events: stored ${receiver.seen.size} of ${POINTS + 2}`);
  }
  return POINTS / seconds;
}

async function jsonlRound() {
  const folder = mkdtempSync(join(tmpdir(), 'livestep-bench-jsonl-'));
  const run = new Run({
    ...options,
    sinks: [createJsonlSink({ path: join(folder, 'run.jsonl') })],
  });
  const started = performance.now();
  await logPoints(run, POINTS);
  await run.end();
  const seconds = (performance.now() - started) / 1000;
  rmSync(folder, { recursive: true, force: true });
  return POINTS / seconds;
}

async function outage(receiver) {
  // The receiver stops listening: every request is refused.
  await new Promise((resolve) => receiver.server.close(resolve));
  const folder = mkdtempSync(join(tmpdir(), 'livestep-bench-outage-'));
  global.gc?.();
  // RSS alone can miss the outage: the throughput rounds before it leave heap pages committed
  // that V8 reuses without growing RSS. What the process holds on the JS side (heap, external
  // and array buffers) is sampled too, and the larger of the two growths is the figure.
  const held = () => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.external + usage.arrayBuffers;
  };
  const baseline = process.memoryUsage().rss;
  const heldBaseline = held();
  let peak = baseline;
  let heldPeak = heldBaseline;
  const sampleMemory = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
    heldPeak = Math.max(heldPeak, held());
  };
  const sample = setInterval(sampleMemory, 20);
  const run = new Run({
    ...options,
    sinks: [
      createHttpSink({
        url: receiver.url,
        spoolDirectory: folder,
        spillAfterMs: 1_000,
        onWarning() {},
      }),
    ],
  });
  await logPoints(run, OUTAGE_POINTS);
  const report = await run.end('completed', { timeoutMs: 2_000 });
  clearInterval(sample);
  sampleMemory();
  rmSync(folder, { recursive: true, force: true });
  const rssDeltaMb = (peak - baseline) / 1024 / 1024;
  const heldDeltaMb = (heldPeak - heldBaseline) / 1024 / 1024;
  return {
    peakDeltaMb: Math.max(rssDeltaMb, heldDeltaMb),
    rssDeltaMb,
    heldDeltaMb,
    spooled: report.sinks[0].spooled ?? 0,
  };
}

const receiver = await startReceiver();
await httpRound(receiver); // warm-up
await jsonlRound();
const http = [];
const jsonl = [];
for (let round = 0; round < ROUNDS; round++) {
  http.push(await httpRound(receiver));
  jsonl.push(await jsonlRound());
}
const httpRate = median(http);
const jsonlRate = median(jsonl);
const down = await outage(receiver);

console.log(
  `HTTP sink to a local receiver: ${Math.round(httpRate).toLocaleString('en')} points/s (median of ${ROUNDS}, ${POINTS.toLocaleString('en')} points, every event stored)`,
);
console.log(
  `JSONL sink to a local file:    ${Math.round(jsonlRate).toLocaleString('en')} points/s`,
);
console.log(`ratio http/jsonl throughput:   ${(httpRate / jsonlRate).toFixed(2)}`);
console.log(
  `receiver down, ${OUTAGE_POINTS.toLocaleString('en')} points: peak memory +${down.peakDeltaMb.toFixed(1)} MB (RSS +${down.rssDeltaMb.toFixed(1)}, heap and buffers +${down.heldDeltaMb.toFixed(1)}), ${down.spooled.toLocaleString('en')} events spooled`,
);

/** Memory while the server is down stays bounded by the sink's memory bound (50,000 events) plus the dispatcher's batches. */
const OUTAGE_MEMORY_LIMIT_MB = 150;
console.log(
  `RESULT ${JSON.stringify({
    name: 'http-sink-throughput',
    metrics: {
      httpPointsPerSecond: Math.round(httpRate),
      jsonlPointsPerSecond: Math.round(jsonlRate),
      throughputRatio: Number((httpRate / jsonlRate).toFixed(3)),
      outagePeakMemoryDeltaMb: Number(down.peakDeltaMb.toFixed(1)),
      outageRssDeltaMb: Number(down.rssDeltaMb.toFixed(1)),
      outageHeapAndBuffersDeltaMb: Number(down.heldDeltaMb.toFixed(1)),
      outageSpooledEvents: down.spooled,
    },
    targets: [
      {
        name: 'peak memory growth while the receiver is down (MB, larger of RSS and heap + buffers)',
        value: Number(down.peakDeltaMb.toFixed(1)),
        limit: OUTAGE_MEMORY_LIMIT_MB,
        pass: down.peakDeltaMb <= OUTAGE_MEMORY_LIMIT_MB,
      },
    ],
  })}`,
);
