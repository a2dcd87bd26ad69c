/**
 * Scripts run as a user runs them: a real Node process, in a folder of its own, importing the
 * built package (dist), so default sinks, folders and onnxruntime-node behave as in a project.
 * Only what is onnx's own is here (its README, its builds, onnxruntime-node); the process is
 * @livestep/test-support's.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  assertBuilt as assertBuiltFiles,
  builtEntry,
  importUrl,
  readmeCodeBlock as readmeCodeBlockIn,
  runNodeScript,
} from '@livestep/test-support';

const packageFolder = resolve(import.meta.dirname, '..', '..');
export const builtPackage = builtEntry('@livestep/onnx', import.meta.url);
/** Core's ES module build as this package resolves it, so the script and the package share one copy. */
export const builtCore = builtEntry('@livestep/core', import.meta.url);
export const readmePath = join(packageFolder, 'README.md');
/** onnxruntime-node as this package resolves it. */
export const onnxRuntimeEntry = join(packageFolder, 'node_modules', 'onnxruntime-node');
/** A script that must end by itself; a hang fails the test instead of timing it out. */
const SCRIPT_DEADLINE_MS = 30_000;

export function assertBuilt(): void {
  assertBuiltFiles(builtPackage);
}

/** The code of the first ```ts block after the heading `heading` in the README. */
export function readmeCodeBlock(heading: string): string {
  return readmeCodeBlockIn(readmePath, heading);
}

/** Import specifiers a script gets rewritten to the builds this package's tests use. */
export function withBuiltImports(code: string): string {
  return code
    .replaceAll("'@livestep/onnx'", importUrl(builtPackage))
    .replaceAll("'@livestep/core'", importUrl(builtCore));
}

/**
 * Writes `code` to `<folder>/<file>` and runs it with `folder` as the working directory, without
 * the environment variables that would send the run elsewhere (LIVESTEP_URL, DVC_STUDIO_TOKEN).
 * Rejects unless it exits with code 0.
 */
export async function runScript(
  folder: string,
  file: string,
  code: string,
  environment: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  const path = join(folder, file);
  await writeFile(path, code);
  const env: Record<string, string | undefined> = {};
  for (const name of ['LIVESTEP_URL', 'LIVESTEP_DIR', 'LIVESTEP_RUN_NAME', 'DVC_STUDIO_TOKEN']) {
    env[name] = undefined;
  }
  const { stdout, stderr } = await runNodeScript(path, {
    cwd: folder,
    env: { ...env, ...environment },
    timeoutMs: SCRIPT_DEADLINE_MS,
    expectSuccess: true,
  });
  return { stdout, stderr };
}
