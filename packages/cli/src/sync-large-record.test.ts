/**
 * `livestep sync` of a 5,000,000-event record (the size of a long run's spool, about 700 MB) in
 * bounded memory: the real command, as a child process, against a receiver that counts what it
 * stores. The child's peak RSS is read at its exit (process.resourceUsage, through a preload).
 */
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runNodeScript } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';
import { cliPath } from './test-support/livestep-cli.js';

const cli = cliPath;
const EVENTS = 5_000_000;
/** What the sync may hold at once: a chunk and a request, not the record. Measured here: 169 MB. */
const PEAK_RSS_BOUND_MB = 250;
const RUN_ID = '2b0c5a4e-5f8e-4b6a-9c1d-7e3f2a1b0c9d';

/** Writes a record the way the JSONL sink does: a header, then one metric event a line. */
function writeRecord(path: string): void {
  const descriptor = openSync(path, 'w');
  try {
    writeSync(
      descriptor,
      `${JSON.stringify({ protocol: 1, run: { id: RUN_ID, experiment: 'big', name: 'spool' } })}\n`,
    );
    const linesPerWrite = 20_000;
    for (let first = 0; first < EVENTS; first += linesPerWrite) {
      let text = '';
      for (let seq = first; seq < first + linesPerWrite; seq++) {
        const id = `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`;
        text += `{"id":"${id}","seq":${seq},"ts":1764547200000,"kind":"metric","name":"train/loss","value":${(seq % 1000) / 1000},"step":${seq}}\n`;
      }
      writeSync(descriptor, text);
    }
  } finally {
    closeSync(descriptor);
  }
}

describe('livestep sync of a large record', () => {
  it(`sends a ${EVENTS.toLocaleString('en')}-event record whole, in under ${PEAK_RSS_BOUND_MB} MB of memory`, async () => {
    const folder = mkdtempSync(join(tmpdir(), 'livestep-sync-large-'));
    const record = join(folder, 'spool.jsonl');
    writeRecord(record);
    const rssFile = join(folder, 'peak-rss');
    const preload = join(folder, 'peak-rss.cjs');
    writeFileSync(
      preload,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
    );

    let stored = 0;
    let lastSeq = -1;
    let outOfOrder = 0;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const batch = JSON.parse(body.toString('utf8')) as { events: Array<{ seq: number }> };
        for (const event of batch.events) {
          if (event.seq !== lastSeq + 1) outOfOrder++;
          lastSeq = event.seq;
        }
        stored += batch.events.length;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ accepted: batch.events.length }));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runNodeScript(cli, {
        execArgv: ['--require', preload],
        args: ['sync', record, '--to', `http://127.0.0.1:${port}`, '--quiet'],
        timeoutMs: 280_000,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`1 run(s) ("spool"): ${EVENTS} events stored, 0 failed`);
      expect(stored).toBe(EVENTS);
      expect(outOfOrder).toBe(0);
      const peakMegabytes = Number(readFileSync(rssFile, 'utf8')) / 1024;
      console.log(`livestep sync of ${EVENTS} events: peak RSS ${peakMegabytes.toFixed(0)} MB`);
      expect(peakMegabytes).toBeLessThan(PEAK_RSS_BOUND_MB);
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  }, 300_000);
});
