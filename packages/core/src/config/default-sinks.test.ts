import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultSinks, type StudioLoader } from './default-sinks.js';
import { readEnvironmentConfig } from './environment-config.js';

// The real decision, from the studio package's source (core cannot depend on it, a test may read it).
const realStudio = await import('../../../studio/src/studio-sink-from-environment.js');

const folder = () => join(mkdtempSync(join(tmpdir(), 'livestep-defaults-')), 'livestep');

function sinksFor(environment: NodeJS.ProcessEnv, loadStudio?: StudioLoader) {
  const warnings: string[] = [];
  const config = readEnvironmentConfig({ LIVESTEP_DIR: folder(), ...environment });
  const sinks = createDefaultSinks(config, {
    environment,
    warn: (message) => warnings.push(message),
    ...(loadStudio && { loadStudio }),
  });
  return { names: sinks.map((sink) => sink.name.split(':')[0]), warnings };
}

describe('default sinks', () => {
  it('write the run folder when nothing is configured', () => {
    expect(sinksFor({}).names).toEqual(['directory']);
  });

  it('add the HTTP sink when LIVESTEP_URL is set', () => {
    expect(sinksFor({ LIVESTEP_URL: 'http://127.0.0.1:4318' }).names).toEqual([
      'directory',
      'http',
    ]);
  });

  it('refuse plain http to a remote host, naming the fix', () => {
    expect(() => sinksFor({ LIVESTEP_URL: 'http://tracking.example.com' })).toThrow(
      /LIVESTEP_ALLOW_INSECURE_HTTP=1/,
    );
  });

  it('add the Studio sink when a Studio token is set, taking what the studio package returns', () => {
    const studio = { name: 'studio:https://studio.example', send() {} };
    const seen: NodeJS.ProcessEnv[] = [];
    const load = () => ({
      studioSinkFromEnvironment: (environment: NodeJS.ProcessEnv) => {
        seen.push(environment);
        return environment.SAYS_OFF ? undefined : studio;
      },
    });
    expect(sinksFor({ DVC_STUDIO_TOKEN: 't' }, load).names).toEqual(['directory', 'studio']);
    expect(sinksFor({ STUDIO_TOKEN: 't' }, load).names).toEqual(['directory', 'studio']);
    // Core has no opinion on DVC_STUDIO_OFFLINE: the package decides, from the same environment.
    expect(sinksFor({ DVC_STUDIO_TOKEN: 't', SAYS_OFF: '1' }, load).names).toEqual(['directory']);
    expect(seen.at(-1)).toMatchObject({ DVC_STUDIO_TOKEN: 't', SAYS_OFF: '1' });
    // Without a token the package is not even loaded.
    expect(sinksFor({}, load).names).toEqual(['directory']);
    expect(seen).toHaveLength(3);
  });

  it('follow the studio package on DVC_STUDIO_OFFLINE: on, yes, 1, true are offline; off, no, 0, false, empty post', () => {
    const load = () => realStudio;
    for (const value of ['on', 'yes', '1', 'true']) {
      expect(
        sinksFor({ DVC_STUDIO_TOKEN: 't', DVC_STUDIO_OFFLINE: value }, load).names,
        value,
      ).toEqual(['directory']);
    }
    for (const value of ['off', 'no', '0', 'false', '']) {
      expect(
        sinksFor({ DVC_STUDIO_TOKEN: 't', DVC_STUDIO_OFFLINE: value }, load).names,
        value,
      ).toEqual(['directory', 'studio']);
    }
  });

  it('say how to install @livestep/studio when a token is set without it', () => {
    const missing = () => {
      throw Object.assign(new Error("Cannot find module '@livestep/studio'"), {
        code: 'MODULE_NOT_FOUND',
      });
    };
    const { names, warnings } = sinksFor({ DVC_STUDIO_TOKEN: 'secret-token' }, missing);
    expect(names).toEqual(['directory']);
    expect(warnings).toEqual([expect.stringContaining('npm install @livestep/studio')]);
    expect(warnings.join('')).not.toContain('secret-token');
  });
});
