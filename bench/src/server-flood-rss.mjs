/**
 * The server's memory under an ingest flood: POSTERS concurrent clients post 5,000-point batches
 * (every event new) to a real `livestep serve` process as fast as it answers, for FLOOD_SECONDS
 * (60 by default; LIVESTEP_BENCH_FLOOD_SECONDS to change), backing off 100 ms on 429/503. The
 * server's RSS is read from /proc every 250 ms.
 *
 * Baseline in the same run: the same server's RSS after start and one small batch (idle). The
 * bound stated: peak RSS at most RSS_LIMIT_MB. Where it comes from: bodies being read at once
 * (96 MB of raw bytes at most, about 3x that once parsed), the write queue (50,000 events, ~20 MB),
 * SQLite's page cache (64 MB) and Node itself (~60 MB); 768 MB leaves room for V8's heap slack.
 *
 * It stops by itself: posters stop at the deadline, each request is abandoned after
 * REQUEST_TIMEOUT_MS, and a watchdog ends the benchmark (failing it) when the whole flood has not
 * finished WATCHDOG_GRACE_MS past its deadline. The RSS is also printed per tenth of the flood,
 * so a bound that holds only because the flood was short (a slow leak) shows as a rising line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatInteger, printResult, round, target } from './lib/report.mjs';
import { ensureBuilt, startServe, stopServe } from './lib/serve-process.mjs';

const FLOOD_SECONDS = Number(process.env.LIVESTEP_BENCH_FLOOD_SECONDS || 60);
const POSTERS = 16;
const BATCH_EVENTS = 5_000;
const BACKOFF_MS = 100;
const SAMPLE_MS = 250;
const RSS_LIMIT_MB = 768;
/** A request the server has not answered in this long counts as failed (the flood still ends). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long past the deadline the flood may take to wind down before the benchmark gives up. */
const WATCHDOG_GRACE_MS = 60_000;
/** The flood's RSS is printed as the peak of each of this many equal slices of it. */
const SLICES = 10;

function rssBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** A batch of new events as JSON text, built by concatenation (the poster must not be the bottleneck). */
function batchBody(runId, prefix, firstSeq) {
  let events = '';
  for (let seq = firstSeq; seq < firstSeq + BATCH_EVENTS; seq++) {
    const id = prefix + seq.toString(16).padStart(12, '0');
    events += `${seq === firstSeq ? '' : ','}{"id":"${id}","seq":${seq},"ts":${Date.now()},"kind":"metric","name":"flood/loss","value":${(seq % 1000) / 1000},"step":${seq}}`;
  }
  return `{"protocol":1,"run":{"id":"${runId}","experiment":"flood","name":"poster"},"events":[${events}]}`;
}

ensureBuilt();
const work = mkdtempSync(join(tmpdir(), 'livestep-bench-flood-'));
const { child: server, url } = await startServe({ data: join(work, 'data') });
const answers = new Map();
let stored = 0;
try {
  const warm = await fetch(`${url}/api/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: batchBody(crypto.randomUUID(), crypto.randomUUID().slice(0, 24), 0),
  });
  await warm.arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idle = rssBytes(server.pid);
  let peak = idle;
  const floodStarted = Date.now();
  const deadline = floodStarted + FLOOD_SECONDS * 1_000;
  const slicePeaks = new Array(SLICES).fill(0);
  const sampler = setInterval(() => {
    const rss = rssBytes(server.pid);
    peak = Math.max(peak, rss);
    const slice = Math.min(
      SLICES - 1,
      Math.floor(((Date.now() - floodStarted) / (deadline - floodStarted)) * SLICES),
    );
    slicePeaks[slice] = Math.max(slicePeaks[slice], rss);
  }, SAMPLE_MS);
  const watchdog = setTimeout(
    () => {
      console.error(
        `server-flood-rss: the flood did not end within ${WATCHDOG_GRACE_MS / 1000} s of its deadline; stopping`,
      );
      server.kill('SIGKILL');
      process.exit(1);
    },
    FLOOD_SECONDS * 1_000 + WATCHDOG_GRACE_MS,
  );
  watchdog.unref();
  async function poster() {
    const runId = crypto.randomUUID();
    const prefix = crypto.randomUUID().slice(0, 24);
    let seq = 0;
    while (Date.now() < deadline) {
      let response;
      let answer;
      try {
        response = await fetch(`${url}/api/v1/batches`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: batchBody(runId, prefix, seq),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        answer = await response.json();
      } catch (error) {
        if (error.name !== 'TimeoutError') throw error;
        answers.set('timeout', (answers.get('timeout') ?? 0) + 1);
        continue;
      }
      answers.set(response.status, (answers.get(response.status) ?? 0) + 1);
      if (response.status === 200) {
        stored += answer.stored;
        seq += BATCH_EVENTS;
      } else await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS));
    }
  }
  await Promise.all(Array.from({ length: POSTERS }, poster));
  clearInterval(sampler);
  clearTimeout(watchdog);
  peak = Math.max(peak, rssBytes(server.pid));
  const mb = (bytes) => bytes / 1024 / 1024;
  const refused = (answers.get(429) ?? 0) + (answers.get(503) ?? 0);
  const failures = [...answers.keys()].filter(
    (status) => status !== 200 && status !== 429 && status !== 503,
  );
  if (failures.length > 0) throw new Error(`unexpected answers: ${JSON.stringify([...answers])}`);
  console.log(
    `${POSTERS} posters for ${FLOOD_SECONDS} s: ${formatInteger(stored)} points stored (${formatInteger(stored / FLOOD_SECONDS)}/s), ${formatInteger(answers.get(200) ?? 0)} batches acknowledged, ${formatInteger(refused)} refused with 429/503`,
  );
  console.log(
    `server RSS: idle ${mb(idle).toFixed(0)} MB, peak ${mb(peak).toFixed(0)} MB (+${mb(peak - idle).toFixed(0)} MB); bound stated: ${RSS_LIMIT_MB} MB (${peak <= RSS_LIMIT_MB * 1024 * 1024 ? 'held' : 'EXCEEDED'})`,
  );
  console.log(
    `peak RSS per ${FLOOD_SECONDS / SLICES} s of the flood (MB): ${slicePeaks.map((bytes) => mb(bytes).toFixed(0)).join(' ')}`,
  );
  printResult({
    name: 'server-flood-rss',
    metrics: {
      floodSeconds: FLOOD_SECONDS,
      pointsStored: stored,
      pointsPerSecond: Math.round(stored / FLOOD_SECONDS),
      refused429Or503: refused,
      idleRssMb: round(mb(idle), 1),
      peakRssMb: round(mb(peak), 1),
      rssLimitMb: RSS_LIMIT_MB,
      peakRssPerSliceMb: slicePeaks.map((bytes) => round(mb(bytes), 0)),
    },
    targets: [
      target(
        `server peak RSS under a ${FLOOD_SECONDS} s flood (MB)`,
        round(mb(peak), 1),
        RSS_LIMIT_MB,
      ),
    ],
  });
} finally {
  await stopServe(server);
  rmSync(work, { recursive: true, force: true });
}
