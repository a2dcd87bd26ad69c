/**
 * A full disk, made with a file-size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail with
 * EFBIG as on a full disk): the process must exit in bounded time with its own exit code, and say
 * once, clearly, what was not stored. Real child processes under bash.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtEntry, importUrl, runNodeScript, writeScript } from '@livestep/test-support';
import { describe, expect, it } from 'vitest';

const builtPackage = builtEntry('@livestep/core', import.meta.url);
/** The file-size limit, in bash's 1024-byte blocks: a few thousand rows fill it. */
const FILE_SIZE_LIMIT_BLOCKS = 64;
/** A process that hangs is killed here and the test fails on its exit. */
const DEADLINE_MS = 15_000;

async function runOnFullDisk(
  ending: string,
  options: { stderrFull: boolean },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }> {
  const { folder, path } = writeScript(
    (folder) => `import { startRun } from ${importUrl(builtPackage)};
const run = startRun({ experiment: 'full', name: 'disk', collectGit: false, directory: ${JSON.stringify(join(folder, 'run'))} });
for (let step = 0; step < 20000; step++) {
  run.logMetrics({ 'train/loss': Math.random(), 'train/accuracy': Math.random() });
  run.nextStep();
  if (step % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
}
${ending}
`,
    { prefix: 'full-disk' },
  );
  const stderrFile = join(folder, 'stderr.log');
  // A stderr already at the limit: every warning and error print fails too.
  writeFileSync(stderrFile, options.stderrFull ? Buffer.alloc(FILE_SIZE_LIMIT_BLOCKS * 1024) : '');
  const outcome = await runNodeScript(path, {
    timeoutMs: DEADLINE_MS,
    wrap: (argv) => [
      'bash',
      '-c',
      `trap '' XFSZ; ulimit -f ${FILE_SIZE_LIMIT_BLOCKS}; exec "$0" "$1" >/dev/null 2>>"$2"`,
      ...argv,
      stderrFile,
    ],
  });
  const stderr = existsSync(stderrFile) ? readFileSync(stderrFile, 'utf8').replace(/\0/g, '') : '';
  return { code: outcome.code, signal: outcome.signal, stderr, ms: outcome.durationMs };
}

describe('a full disk', () => {
  it('says once what was not stored, and the process ends with its own exit code', async () => {
    const outcome = await runOnFullDisk(
      "const report = await run.end(); console.error('failed events', report.failed);",
      {
        stderrFull: false,
      },
    );
    expect(outcome.signal).toBeNull();
    expect(outcome.code).toBe(0);
    const refusals = outcome.stderr.match(/the disk refused a write in .*run \(EFBIG/g) ?? [];
    expect(refusals).toHaveLength(1);
    expect(outcome.stderr).toMatch(/Free space, or point LIVESTEP_DIR at another disk/);
    expect(Number(/failed events (\d+)/.exec(outcome.stderr)?.[1])).toBeGreaterThan(1_000);
  });

  it('an uncaught error while stderr itself cannot be written still exits 1 in bounded time', async () => {
    const outcome = await runOnFullDisk(
      "setTimeout(() => { throw new Error('training crashed after the disk filled'); }, 10);",
      { stderrFull: true },
    );
    expect(outcome.signal).toBeNull();
    expect(outcome.code).toBe(1);
    expect(outcome.ms).toBeLessThan(DEADLINE_MS);
  });
});
