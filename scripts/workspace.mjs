#!/usr/bin/env node
// The repository's entry points (`npm run demo`, `npm test`, `pnpm bench`). They must work on a
// fresh machine that has only Node and npm: corepack cannot fetch pnpm on a network without
// registry signatures, and pnpm refuses to switch itself to another version, so this script runs
// the exact pinned pnpm (the packageManager field) through npx, installs when the lockfile changed,
// builds with turbo and then runs the task.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = rootManifest.packageManager.replace(/^pnpm@/, '');

const environment = {
  ...process.env,
  // onnxruntime-node's install script downloads CUDA libraries; its CPU binaries ship in the package.
  ONNXRUNTIME_NODE_INSTALL: 'skip',
  TURBO_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
};

function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    cwd: root,
    env: environment,
    ...options,
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** The pinned pnpm, fetched by npx on first use and cached by npm afterwards. */
function pnpm(args) {
  return run('npx', ['--yes', `pnpm@${pnpmVersion}`, ...args]);
}

function must(status, what) {
  if (status !== 0) {
    console.error(`\n${what} failed (exit code ${status}).`);
    process.exit(status);
  }
}

function installIfNeeded() {
  const lockfile = join(root, 'pnpm-lock.yaml');
  const installedLock = join(root, 'node_modules', '.pnpm', 'lock.yaml');
  if (existsSync(lockfile) && existsSync(installedLock)) {
    if (readFileSync(lockfile, 'utf8') === readFileSync(installedLock, 'utf8')) return;
  }
  must(pnpm(['install', '--frozen-lockfile']), 'pnpm install');
}

function turbo(args) {
  must(pnpm(['exec', 'turbo', 'run', ...args]), `turbo run ${args.join(' ')}`);
}

/**
 * Sums the JSON reports that every package's `vitest run` writes, so the run ends on one line, and
 * repeats each failure under it: a CI log is often read from its tail only.
 */
function printTestTotals() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  const folders = ['packages', 'examples'].flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group)).map((name) => join(root, group, name))
      : [],
  );
  folders.push(join(root, 'test-e2e'), join(root, 'bench'));
  for (const folder of folders) {
    const report = join(folder, '.tmp', 'vitest.json');
    if (!existsSync(report)) continue;
    const totals = JSON.parse(readFileSync(report, 'utf8'));
    passed += totals.numPassedTests;
    failed += totals.numFailedTests;
    skipped += totals.numPendingTests + totals.numTodoTests;
    for (const file of totals.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        if (test.status !== 'failed') continue;
        const message = (test.failureMessages ?? []).join('\n').split('\n').slice(0, 12);
        failures.push(
          [`FAILED ${relative(root, file.name)} > ${test.fullName}`, ...message].join('\n    '),
        );
      }
    }
  }
  for (const failure of failures) console.log(`\n${failure}`);
  console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed;
}

function clearTestReports() {
  for (const group of ['packages', 'examples']) {
    if (!existsSync(join(root, group))) continue;
    for (const name of readdirSync(join(root, group))) {
      rmSync(join(root, group, name, '.tmp', 'vitest.json'), { force: true });
    }
  }
  rmSync(join(root, 'test-e2e', '.tmp', 'vitest.json'), { force: true });
}

const [task = 'test', ...rest] = process.argv.slice(2);

switch (task) {
  case 'install':
    installIfNeeded();
    break;
  case 'demo': {
    installIfNeeded();
    turbo([
      'build',
      '--filter=./examples/tfjs-fit...',
      '--filter=./packages/server...',
      '--output-logs=errors-only',
    ]);
    // A server, the tfjs example streaming to it, the run read back (scripts/demo.mjs).
    must(run(process.execPath, [join(root, 'scripts', 'demo.mjs'), ...rest]), 'the demo');
    break;
  }
  case 'test': {
    installIfNeeded();
    clearTestReports();
    must(pnpm(['exec', 'biome', 'ci', '.']), 'lint (biome ci)');
    mkdirSync(join(root, '.tmp'), { recursive: true });
    // --continue: one failing package must not hide the results of the others. Two tasks at a
    // time on two cores: the end-to-end and exit tests run real processes against deadlines.
    const status = pnpm([
      'exec',
      'turbo',
      'run',
      'build',
      'typecheck',
      'check:package',
      'test',
      '--continue',
      '--concurrency=2',
    ]);
    const failedTests = printTestTotals();
    if (status !== 0 || failedTests > 0) process.exit(status || 1);
    break;
  }
  case 'bench':
    installIfNeeded();
    turbo(['build', '--filter=./bench...', '--output-logs=errors-only']);
    must(pnpm(['--filter', './bench', 'bench', ...rest]), 'the benchmarks');
    break;
  default:
    console.error(`unknown task "${task}"; use demo, test, bench or install`);
    process.exit(2);
}
