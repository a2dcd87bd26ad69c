// The README as a user reads it: its numbers are the code's, its links lead somewhere, and its
// nested-loop example does what the text says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SYSTEM_MONITOR_INTERVAL_MS, type MetricEvent } from '@livestep/core';
import { readmeCodeBlock } from '@livestep/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LINE_INTERVAL_MS } from './progress-lines.js';
import { assertLoopBuilt, runLoopScript } from './test-support/loop-script.js';

const packageFolder = join(import.meta.dirname, '..');
const readmePath = join(packageFolder, 'README.md');
const readme = readFileSync(readmePath, 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((match) => anchorOf(match[1]!)));
}

describe('the README', () => {
  it("documents the system monitor's default interval, 5 s, as core has it", () => {
    const seconds = DEFAULT_SYSTEM_MONITOR_INTERVAL_MS / 1000;
    expect(readme).toContain(`\`true\` (a sample every ${seconds} s)`);
    expect(readme).toContain(`\`intervalMs\`, default ${DEFAULT_SYSTEM_MONITOR_INTERVAL_MS}`);
    expect(readme).toContain(`(a sample every ${seconds} s by default)`);
    expect(readme).toContain(`\`lineIntervalMs\` (${DEFAULT_LINE_INTERVAL_MS / 1000} s)`);
  });

  it('links only to sections that exist, here and in the core README', () => {
    const own = anchorsOf(readme);
    for (const [, anchor] of readme.matchAll(/\]\(#([^)]+)\)/g)) expect(own).toContain(anchor);
    const core = anchorsOf(readFileSync(join(packageFolder, '..', 'core', 'README.md'), 'utf8'));
    for (const [, anchor] of readme.matchAll(/\]\(\.\.\/core(?:\/README\.md)?#([^)]+)\)/g)) {
      expect(core).toContain(anchor);
    }
    // The monitor is documented here, not in a section of core's README it would point to.
    expect(readme).toMatch(/`startSystemMonitor\(run, \{ intervalMs, gpu \}\)`/);
  });
});

describe("the README's nested loops, run as written", () => {
  beforeAll(assertLoopBuilt);

  it('epoch metrics at steps 0, 1, 2, ..., whatever the number of batches', async () => {
    const code = readmeCodeBlock(readmePath, '### Nested loops').replace(
      "runOptions: { experiment: 'mnist' }",
      "runOptions: { experiment: 'mnist', sinks: [journal], collectGit: false }",
    );
    const outcome = await runLoopScript(`
const batches = [1, 2, 3, 4, 5, 6, 7];
const trainOn = () => {};
let epochsDone = 0;
const evaluateLoss = () => 1 / ++epochsDone;
${code}
`);
    expect(outcome.code, outcome.stderr).toBe(0);
    const losses = outcome.events.filter(
      (event): event is MetricEvent => event.kind === 'metric' && event.name === 'train/loss',
    );
    expect(losses.map((event) => event.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Piped: each loop's last line, the inner ones first.
    const lines = outcome.stderr.split('\n').filter(Boolean);
    expect(lines.filter((line) => line.startsWith('batch 7/7 (100%)'))).toHaveLength(10);
    expect(lines.at(-1)).toMatch(/^epoch 10\/10 \(100%\) \| .* \| train\/loss=0\.1 \| done$/);
  });
});
