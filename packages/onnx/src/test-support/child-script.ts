/**
 * Scripts run as a user runs them: a real Node process, in a folder of its own, importing the
 * built package (dist), so default sinks, folders and onnxruntime-node behave as in a project.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const packageFolder = resolve(import.meta.dirname, '..', '..');
export const builtPackage = join(packageFolder, 'dist', 'index.js');
/** Core's ES module build as this package resolves it, so the script and the package share one copy. */
export const builtCore = join(
  packageFolder,
  'node_modules',
  '@livestep',
  'core',
  'dist',
  'index.js',
);
export const readmePath = join(packageFolder, 'README.md');
/** onnxruntime-node as this package resolves it. */
export const onnxRuntimeEntry = join(packageFolder, 'node_modules', 'onnxruntime-node');
/** A script that must end by itself; a hang fails the test instead of timing it out. */
const SCRIPT_DEADLINE_MS = 30_000;

export function assertBuilt(): void {
  if (!existsSync(builtPackage)) {
    throw new Error(`build @livestep/onnx first (npx tsup): ${builtPackage} is missing`);
  }
}

/** The code of the first ```ts block after the heading `heading` in the README. */
export function readmeCodeBlock(heading: string): string {
  const text = readFileSync(readmePath, 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no heading ${JSON.stringify(heading)}`);
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (block === null) throw new Error(`README.md has no ts block under ${heading}`);
  return block[1]!;
}

/** Import specifiers a script gets rewritten to the builds this package's tests use. */
export function withBuiltImports(code: string): string {
  return code
    .replaceAll("'@livestep/onnx'", JSON.stringify(pathToFileURL(builtPackage).href))
    .replaceAll("'@livestep/core'", JSON.stringify(pathToFileURL(builtCore).href));
}

/**
 * Writes `code` to `<folder>/<file>` and runs it with `folder` as the working directory, without
 * the environment variables that would send the run elsewhere (LIVESTEP_URL, DVC_STUDIO_TOKEN).
 */
export async function runScript(
  folder: string,
  file: string,
  code: string,
  environment: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const path = join(folder, file);
  await writeFile(path, code);
  const env: NodeJS.ProcessEnv = { ...process.env, ...environment };
  for (const name of ['LIVESTEP_URL', 'LIVESTEP_DIR', 'LIVESTEP_RUN_NAME', 'DVC_STUDIO_TOKEN']) {
    if (!(name in environment)) delete env[name];
  }
  return promisify(execFile)(process.execPath, [path], {
    cwd: folder,
    env,
    timeout: SCRIPT_DEADLINE_MS,
  });
}
