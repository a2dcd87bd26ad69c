import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sink } from '../pipeline/sink.js';
import { createDefaultSinks } from './default-sinks.js';
import { readEnvironmentConfig } from './environment-config.js';

const folder = () => join(mkdtempSync(join(tmpdir(), 'livestep-defaults-')), 'livestep');

function sinksFor(
  environment: NodeJS.ProcessEnv,
  loadStudio?: () => { studioSinkFromEnvironment(): Sink | undefined },
) {
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

  it('add the Studio sink when a Studio token is set and Studio is not offline', () => {
    const studio = { name: 'studio:https://studio.example', send() {} };
    const load = () => ({ studioSinkFromEnvironment: () => studio });
    expect(sinksFor({ DVC_STUDIO_TOKEN: 't' }, load).names).toEqual(['directory', 'studio']);
    expect(sinksFor({ STUDIO_TOKEN: 't' }, load).names).toEqual(['directory', 'studio']);
    expect(sinksFor({ DVC_STUDIO_TOKEN: 't', DVC_STUDIO_OFFLINE: 'true' }, load).names).toEqual([
      'directory',
    ]);
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
