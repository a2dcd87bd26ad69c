#!/usr/bin/env node
/**
 * Runs every benchmark in this folder, each in its own node process (with --expose-gc), so one
 * benchmark's heap, JIT state and open handles cannot skew another, then prints a summary of
 * every target.
 *
 *   node src/run-all.mjs                  all benchmarks; exit 0 whatever the figures
 *   node src/run-all.mjs --check          exit 1 when a target (not a goal) is missed
 *   node src/run-all.mjs point-cost       only the benchmarks whose file name contains a filter
 *
 * A benchmark that crashes or prints no RESULT line (for example because it found lost data)
 * always makes the run exit 1: that is a broken benchmark, not a slow one.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RESULT_PREFIX } from './lib/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));

const flags = process.argv.slice(2).filter((argument) => argument.startsWith('--'));
const filters = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
const unknown = flags.filter((flag) => flag !== '--check');
if (unknown.length > 0) {
  console.error(`run-all: unknown option ${unknown.join(', ')}; use --check and/or name filters`);
  process.exit(2);
}
const check = flags.includes('--check');

const benchmarks = readdirSync(here)
  .filter((file) => file.endsWith('.mjs') && file !== self)
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (benchmarks.length === 0) {
  console.error(`run-all: no benchmark matches ${filters.join(', ')}`);
  process.exit(2);
}

/** Runs one benchmark file, echoing its output, and collects its RESULT line. */
function runBenchmark(file) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--expose-gc', join(here, file)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let result;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.startsWith(RESULT_PREFIX)) {
        try {
          result = JSON.parse(line.slice(RESULT_PREFIX.length));
        } catch {
          console.log(`  (unreadable RESULT line: ${line})`);
        }
      } else {
        console.log(`  ${line}`);
      }
    });
    child.on('close', (code, signal) => {
      resolve({ file, code, signal, result, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function formatNumber(value) {
  if (typeof value !== 'number') return String(value);
  return Number.isInteger(value) ? value.toLocaleString('en') : String(value);
}

function printTable(header, rows) {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => String(row[column]).length)),
  );
  const format = (row) => row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(format(row));
}

const outcomes = [];
for (const file of benchmarks) {
  console.log(`\n== ${file}`);
  const outcome = await runBenchmark(file);
  console.log(`   (${outcome.seconds.toFixed(1)} s)`);
  outcomes.push(outcome);
}

const rows = [];
let broken = 0;
let missedTargets = 0;
for (const { file, code, signal, result } of outcomes) {
  const name = basename(file, '.mjs');
  if (code !== 0 || result === undefined) {
    broken++;
    const why = signal ? `killed by ${signal}` : code !== 0 ? `exit code ${code}` : 'no RESULT';
    rows.push([name, 'benchmark failed', why, '', 'FAILED']);
    continue;
  }
  for (const entry of result.targets ?? []) {
    const level = entry.level ?? 'target';
    const missed = !entry.pass;
    if (missed && level === 'target') missedTargets++;
    rows.push([
      name,
      entry.name,
      formatNumber(entry.value),
      `<= ${formatNumber(entry.limit)}`,
      `${entry.pass ? 'PASS' : 'MISS'}${level === 'goal' ? ' (goal)' : ''}`,
    ]);
  }
}

console.log('\n== summary');
printTable(['benchmark', 'target', 'measured', 'limit', 'verdict'], rows);
console.log('\nmetrics:');
for (const { file, result } of outcomes) {
  if (result?.metrics === undefined) continue;
  const metrics = Object.entries(result.metrics)
    .map(([key, value]) => `${key}=${formatNumber(value)}`)
    .join(', ');
  console.log(`  ${basename(file, '.mjs')}: ${metrics}`);
}

if (broken > 0) {
  console.log(`\n${broken} benchmark(s) failed to run or to verify their data.`);
  process.exit(1);
}
if (missedTargets > 0) {
  if (check) {
    console.log(`\n${missedTargets} target(s) missed (--check).`);
    process.exit(1);
  }
  console.log(`\n${missedTargets} target(s) missed; run with --check to fail on a miss.`);
}
