// The Dioptra sink's settings: from the environment (DIOPTRA_API as Dioptra's own client reads
// it, DIOPTRA_JOB_ID, the login under DIOPTRA_ or DIOPTRA_WORKER_ names), on by default only when
// the API and the job are both set, and clear errors that never show the password.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultSinks } from '../../config/default-sinks.js';
import { readEnvironmentConfig } from '../../config/environment-config.js';
import { resolveDioptraConfig } from './dioptra-config.js';

function sinksFor(environment: NodeJS.ProcessEnv) {
  const warnings: string[] = [];
  const directory = join(mkdtempSync(join(tmpdir(), 'livestep-dioptra-defaults-')), 'livestep');
  const config = readEnvironmentConfig({ LIVESTEP_DIR: directory, ...environment });
  const sinks = createDefaultSinks(config, {
    environment,
    warn: (message) => warnings.push(message),
  });
  return { names: sinks.map((sink) => sink.name), warnings };
}

describe('the Dioptra sink from the environment', () => {
  it('is on when DIOPTRA_API and DIOPTRA_JOB_ID are set, and off when either is not', () => {
    expect(sinksFor({ DIOPTRA_API: 'http://127.0.0.1:5000', DIOPTRA_JOB_ID: '12' }).names).toEqual([
      expect.stringMatching(/^directory:/),
      'dioptra:http://127.0.0.1:5000/jobs/12',
    ]);
    expect(sinksFor({ DIOPTRA_API: 'http://127.0.0.1:5000' }).names).toHaveLength(1);
    expect(sinksFor({ DIOPTRA_JOB_ID: '12' }).names).toHaveLength(1);
  });

  it('warns (and records into the other sinks) for settings it cannot use, never showing the password', () => {
    for (const environment of [
      { DIOPTRA_API: 'http://127.0.0.1:5000', DIOPTRA_JOB_ID: 'job-12' },
      { DIOPTRA_API: 'not a url', DIOPTRA_JOB_ID: '1' },
      { DIOPTRA_API: 'http://127.0.0.1:5000', DIOPTRA_JOB_ID: '1', DIOPTRA_PASSWORD: 'SECRET-x' },
      {
        DIOPTRA_API: 'http://dioptra.example.com',
        DIOPTRA_JOB_ID: '1',
        DIOPTRA_USERNAME: 'me',
        DIOPTRA_PASSWORD: 'SECRET-x',
      },
    ]) {
      const { names, warnings } = sinksFor(environment);
      expect(names).toHaveLength(1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /(DIOPTRA_|Dioptra password).*nothing is sent to Dioptra in this run$/,
      );
      expect(warnings[0]).not.toContain('SECRET-x');
    }
  });
});

describe('resolveDioptraConfig', () => {
  it('takes DIOPTRA_API without /api/v1 (and strips one given), and the job id', () => {
    for (const url of [
      'http://127.0.0.1:5000',
      'http://127.0.0.1:5000/',
      'http://127.0.0.1:5000/api/v1/',
    ]) {
      const config = resolveDioptraConfig({
        environment: { DIOPTRA_API: url, DIOPTRA_JOB_ID: '3' },
      });
      expect(config.apiBase.href).toBe('http://127.0.0.1:5000/api/v1/');
      expect(config.jobId).toBe('3');
      expect(config.login).toBeUndefined();
    }
    const behindProxy = resolveDioptraConfig({ apiUrl: 'https://lab.example/dioptra', jobId: 9 });
    expect(behindProxy.apiBase.href).toBe('https://lab.example/dioptra/api/v1/');
  });

  it("reads the login from DIOPTRA_USERNAME/_PASSWORD, else a Dioptra worker's DIOPTRA_WORKER_ names", () => {
    const base = { DIOPTRA_API: 'http://localhost:5000', DIOPTRA_JOB_ID: '1' };
    expect(
      resolveDioptraConfig({
        environment: { ...base, DIOPTRA_USERNAME: 'me', DIOPTRA_PASSWORD: 'p' },
      }),
    ).toMatchObject({
      login: { username: 'me', password: 'p' },
      credentialHint: 'DIOPTRA_USERNAME and DIOPTRA_PASSWORD',
    });
    expect(
      resolveDioptraConfig({
        environment: { ...base, DIOPTRA_WORKER_USERNAME: 'w', DIOPTRA_WORKER_PASSWORD: 'q' },
      }),
    ).toMatchObject({
      login: { username: 'w', password: 'q' },
      credentialHint: 'DIOPTRA_WORKER_USERNAME and DIOPTRA_WORKER_PASSWORD',
    });
    expect(() =>
      resolveDioptraConfig({ environment: { ...base, DIOPTRA_USERNAME: 'me' } }),
    ).toThrow(/needs both DIOPTRA_USERNAME and DIOPTRA_PASSWORD; DIOPTRA_PASSWORD is not set/);
    // A login given in code is one account: never a code password with a worker's user name.
    expect(() =>
      resolveDioptraConfig({
        password: 'from-code',
        environment: { ...base, DIOPTRA_WORKER_USERNAME: 'worker', DIOPTRA_WORKER_PASSWORD: 'q' },
      }),
    ).toThrow(/needs both \{ username, password \}; username is not set/);
    expect(
      resolveDioptraConfig({
        username: 'me',
        password: 'from-code',
        environment: { ...base, DIOPTRA_WORKER_USERNAME: 'worker', DIOPTRA_WORKER_PASSWORD: 'q' },
      }),
    ).toMatchObject({ login: { username: 'me', password: 'from-code' } });
  });

  it('refuses a login over plain http to a host that is not loopback, unless allowed', () => {
    const environment = {
      DIOPTRA_API: 'http://dioptra.lab:5000',
      DIOPTRA_JOB_ID: '1',
      DIOPTRA_USERNAME: 'me',
      DIOPTRA_PASSWORD: 'p',
    };
    expect(() => resolveDioptraConfig({ environment })).toThrow(
      /refusing to send a Dioptra password/,
    );
    expect(
      resolveDioptraConfig({ environment: { ...environment, LIVESTEP_ALLOW_INSECURE_HTTP: '1' } })
        .origin,
    ).toBe('http://dioptra.lab:5000');
    expect(
      resolveDioptraConfig({ environment: { ...environment, DIOPTRA_API: 'https://dioptra.lab' } })
        .origin,
    ).toBe('https://dioptra.lab');
  });

  it('says what is missing: the API, the job, or a job id that is not a number', () => {
    expect(() => resolveDioptraConfig({ environment: { DIOPTRA_JOB_ID: '1' } })).toThrow(
      /set DIOPTRA_API/,
    );
    expect(() =>
      resolveDioptraConfig({ environment: { DIOPTRA_API: 'http://localhost' } }),
    ).toThrow(/set DIOPTRA_JOB_ID/);
    expect(() =>
      resolveDioptraConfig({
        environment: { DIOPTRA_API: 'http://localhost', DIOPTRA_JOB_ID: '0' },
      }),
    ).toThrow(/DIOPTRA_JOB_ID must be a Dioptra job's id/);
    expect(() =>
      resolveDioptraConfig({
        environment: { DIOPTRA_API: 'ftp://localhost', DIOPTRA_JOB_ID: '1' },
      }),
    ).toThrow(/http:\/\/ or https:\/\//);
  });
});
