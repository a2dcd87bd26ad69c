import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultSinks } from '../../config/default-sinks.js';
import { readEnvironmentConfig } from '../../config/environment-config.js';

function sinksFor(environment: NodeJS.ProcessEnv) {
  const warnings: string[] = [];
  const directory = join(mkdtempSync(join(tmpdir(), 'livestep-clearml-defaults-')), 'livestep');
  const config = readEnvironmentConfig({ LIVESTEP_DIR: directory, ...environment });
  const sinks = createDefaultSinks(config, {
    environment,
    warn: (message) => warnings.push(message),
  });
  return { names: sinks.map((sink) => sink.name), warnings };
}

const KEYS = { CLEARML_API_ACCESS_KEY: 'AK', CLEARML_API_SECRET_KEY: 'SECRET-clearml-key' };

describe('the ClearML sink from the environment', () => {
  it('is on when CLEARML_API_HOST (or TRAINS_API_HOST) is set, and off when it is not', () => {
    expect(sinksFor({ CLEARML_API_HOST: 'http://127.0.0.1:8008', ...KEYS }).names).toEqual([
      expect.stringMatching(/^directory:/),
      'clearml:http://127.0.0.1:8008',
    ]);
    expect(sinksFor({ TRAINS_API_HOST: 'http://127.0.0.1:8008', ...KEYS }).names).toHaveLength(2);
    expect(sinksFor(KEYS).names).toHaveLength(1);
  });

  it('warns (and records into the other sinks) for settings it cannot use, never showing the secret', () => {
    for (const environment of [
      { CLEARML_API_HOST: 'http://127.0.0.1:8008' },
      { CLEARML_API_HOST: 'http://127.0.0.1:8008', CLEARML_API_SECRET_KEY: 'SECRET-clearml-key' },
      { CLEARML_API_HOST: 'not a url', ...KEYS },
      { CLEARML_API_HOST: 'http://clearml.example.com:8008', ...KEYS },
    ]) {
      const { names, warnings } = sinksFor(environment);
      expect(names).toHaveLength(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/CLEARML_.*nothing is sent to ClearML in this run$/);
      expect(warnings[0]).not.toContain('SECRET-clearml-key');
    }
  });
});
