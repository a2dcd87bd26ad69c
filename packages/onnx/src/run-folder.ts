/**
 * Where a run that evaluate() starts itself is written: each in its own folder, named after the
 * run, under the folder every livestep run uses (LIVESTEP_DIR, else `./livestep`):
 *
 *   evaluate('models/iris-mlp.onnx', data, { task, run: { experiment: 'iris', name: 'mlp' } })
 *     -> livestep/mlp/metrics.json, params.yaml, plots/..., livestep.json
 *   (dvc.yaml beside the run folders, livestep/dvc.yaml, lists every run once)
 *
 * so evaluating several models one after the other keeps every one of them. A `directory` or
 * `sinks` in the run options wins: the run goes exactly where they say.
 */
import { randomUUID } from 'node:crypto';
import { basename, extname, join } from 'node:path';
import type { StartRunOptions } from '@livestep/core';
import { readEnvironmentConfig } from '@livestep/core/sink-kit';
import { safeSegment } from './metric-names.js';

/** Hex digits of the random part of a run name made up for a model without a file name. */
const GENERATED_NAME_DIGITS = 8;
/** Start of a run name made up for a session or bytes evaluated without a name. */
const GENERATED_NAME_PREFIX = 'eval';

/**
 * The run's name when the options do not give one: LIVESTEP_RUN_NAME, else the model file's name
 * without `.onnx` (`iris-mlp`), else `eval-` and random hex digits.
 */
export function evaluationRunName(options: StartRunOptions, modelPath: string | undefined): string {
  if (options.name !== undefined) return options.name;
  const fromEnvironment = readEnvironmentConfig(options.environment ?? process.env).runName;
  if (fromEnvironment !== undefined) return fromEnvironment;
  if (modelPath !== undefined) {
    const stem = basename(modelPath, extname(modelPath)).trim();
    if (stem !== '') return stem;
  }
  return `${GENERATED_NAME_PREFIX}-${randomUUID().replaceAll('-', '').slice(0, GENERATED_NAME_DIGITS)}`;
}

/**
 * The options of the run evaluate() starts: named (see evaluationRunName), and, with the default
 * sinks, written to `<LIVESTEP_DIR or livestep>/<run name>`. The name becomes one folder: `/`, `\`
 * and the other characters a file name cannot hold become `_`.
 */
export function evaluationRunOptions(
  options: StartRunOptions,
  modelPath: string | undefined,
): StartRunOptions {
  const name = evaluationRunName(options, modelPath);
  if (options.sinks !== undefined || options.directory !== undefined) return { ...options, name };
  const parent = readEnvironmentConfig(options.environment ?? process.env).directory;
  return { ...options, name, directory: join(parent, safeSegment(name)) };
}
