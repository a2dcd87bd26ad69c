import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultSinks } from '../../config/default-sinks.js';
import { readEnvironmentConfig } from '../../config/environment-config.js';

function sinksFor(environment: NodeJS.ProcessEnv) {
  const warnings: string[] = [];
  const directory = join(mkdtempSync(join(tmpdir(), 'livestep-mlflow-defaults-')), 'livestep');
  const config = readEnvironmentConfig({ LIVESTEP_DIR: directory, ...environment });
  const sinks = createDefaultSinks(config, {
    environment,
    warn: (message) => warnings.push(message),
  });
  return { names: sinks.map((sink) => sink.name), warnings };
}

describe('the MLflow sink from the environment', () => {
  it('is on when MLFLOW_TRACKING_URI is set, and off when it is not', () => {
    expect(sinksFor({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' }).names).toEqual([
      expect.stringMatching(/^directory:/),
      'mlflow:http://127.0.0.1:5000',
    ]);
    expect(sinksFor({ MLFLOW_TRACKING_TOKEN: 'x' }).names).toHaveLength(1);
  });

  it('warns (and records into the other sinks) for a URI it cannot use, never showing a secret', () => {
    for (const uri of ['file:///home/me/mlruns', './mlruns', 'databricks']) {
      const { names, warnings } = sinksFor({
        MLFLOW_TRACKING_URI: uri,
        MLFLOW_TRACKING_TOKEN: 'SECRET-x',
      });
      expect(names).toHaveLength(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/MLFLOW_TRACKING_URI.*nothing is sent to MLflow in this run$/);
      expect(warnings[0]).not.toContain('SECRET-x');
    }
  });
});
