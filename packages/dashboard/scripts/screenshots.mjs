#!/usr/bin/env node
// The README's screenshots of the dashboard (runs table, a live chart, a run page), made by the
// browser tests themselves: they run against a real server and a real tfjs training, and write
// their screenshots into packages/dashboard/screenshots/ when LIVESTEP_SCREENSHOTS says so.
//
//   npx pnpm@10.34.9 build && node packages/dashboard/scripts/screenshots.mjs
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const folder = fileURLToPath(new URL('../screenshots/', import.meta.url));
const testE2e = fileURLToPath(new URL('../../../test-e2e/', import.meta.url));
const result = spawnSync(
  'npx',
  ['vitest', 'run', 'src/dashboard-live.test.ts', 'src/dashboard-views.test.ts'],
  { cwd: testE2e, stdio: 'inherit', env: { ...process.env, LIVESTEP_SCREENSHOTS: folder } },
);
if (result.status === 0) console.log(`screenshots written to ${folder}`);
process.exit(result.status ?? 1);
