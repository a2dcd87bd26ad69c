import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STUDIO_URL,
  isOfflineValue,
  normalizeBaselineSha,
  resolveStudioConfig,
  resolveStudioEndpoint,
} from './studio-config.js';
import { createStudioSink } from './studio-sink.js';
import { studioSinkFromEnvironment } from './studio-sink-from-environment.js';

const TOKEN = 'isat_ConfigTestTokenSECRET';

describe('resolveStudioEndpoint', () => {
  it('joins like a URL join: a base without a trailing slash loses its last segment', () => {
    expect(resolveStudioEndpoint('https://studio.datachain.ai').href).toBe(
      'https://studio.datachain.ai/api/live',
    );
    expect(resolveStudioEndpoint('https://studio.datachain.ai/').href).toBe(
      'https://studio.datachain.ai/api/live',
    );
    expect(resolveStudioEndpoint('https://example.com/studio').href).toBe(
      'https://example.com/api/live',
    );
    expect(resolveStudioEndpoint('https://example.com/studio/').href).toBe(
      'https://example.com/studio/api/live',
    );
    expect(resolveStudioEndpoint('https://example.com/studio/', '/api/live').href).toBe(
      'https://example.com/api/live',
    );
    expect(resolveStudioEndpoint('https://example.com/a/', 'custom/live').href).toBe(
      'https://example.com/a/custom/live',
    );
  });

  it('refuses what is not a usable URL, naming the variable and the fix', () => {
    expect(() => resolveStudioEndpoint('studio.datachain.ai')).toThrow(/DVC_STUDIO_URL.*not a URL/);
    expect(() => resolveStudioEndpoint('ftp://example.com')).toThrow(/http or https/);
    expect(() => resolveStudioEndpoint('https://user:secret@example.com')).toThrow(
      /must not contain credentials; put the token in DVC_STUDIO_TOKEN/,
    );
    expect(() => resolveStudioEndpoint('http://studio.example.com')).toThrow(
      /LIVESTEP_ALLOW_INSECURE_HTTP=1/,
    );
    expect(resolveStudioEndpoint('http://studio.example.com', 'api/live', true).href).toBe(
      'http://studio.example.com/api/live',
    );
    expect(resolveStudioEndpoint('http://127.0.0.1:8000').href).toBe(
      'http://127.0.0.1:8000/api/live',
    );
    expect(() => resolveStudioEndpoint('https://example.com', 'https://elsewhere.com/x')).toThrow(
      /STUDIO_ENDPOINT.*points away/,
    );
  });
});

describe('resolveStudioConfig', () => {
  it('takes the token from the option, then DVC_STUDIO_TOKEN, then STUDIO_TOKEN', () => {
    const environment = { DVC_STUDIO_TOKEN: 'from-dvc', STUDIO_TOKEN: 'from-studio' };
    expect(resolveStudioConfig({ token: 'from-option' }, environment).token).toBe('from-option');
    expect(resolveStudioConfig({}, environment).token).toBe('from-dvc');
    expect(resolveStudioConfig({}, { STUDIO_TOKEN: 'from-studio' }).token).toBe('from-studio');
    expect(resolveStudioConfig({}, { DVC_STUDIO_TOKEN: '  ' }).token).toBeUndefined();
  });

  it('takes the repository URL from the option, DVC_EXP_GIT_REMOTE, DVC_STUDIO_REPO_URL, STUDIO_REPO_URL', () => {
    const all = {
      DVC_EXP_GIT_REMOTE: 'git@github.com:a/exp.git',
      DVC_STUDIO_REPO_URL: 'https://github.com/a/studio.git',
      STUDIO_REPO_URL: 'https://github.com/a/plain.git',
    };
    expect(resolveStudioConfig({ repoUrl: 'https://x/option.git' }, all).repoUrl).toBe(
      'https://x/option.git',
    );
    expect(resolveStudioConfig({}, all).repoUrl).toBe('git@github.com:a/exp.git');
    const { DVC_EXP_GIT_REMOTE: _, ...withoutRemote } = all;
    expect(resolveStudioConfig({}, withoutRemote).repoUrl).toBe('https://github.com/a/studio.git');
    expect(resolveStudioConfig({}, { STUDIO_REPO_URL: all.STUDIO_REPO_URL }).repoUrl).toBe(
      all.STUDIO_REPO_URL,
    );
    expect(resolveStudioConfig({}, {}).repoUrl).toBeUndefined();
  });

  it('takes the URL from the option, then DVC_STUDIO_URL, then the default; the endpoint from STUDIO_ENDPOINT', () => {
    expect(resolveStudioConfig({}, {}).endpointUrl.href).toBe(`${DEFAULT_STUDIO_URL}/api/live`);
    expect(
      resolveStudioConfig({}, { DVC_STUDIO_URL: 'https://studio.example.com/' }).endpointUrl.href,
    ).toBe('https://studio.example.com/api/live');
    expect(
      resolveStudioConfig(
        { url: 'https://option.example.com' },
        { DVC_STUDIO_URL: 'https://studio.example.com', STUDIO_ENDPOINT: 'api/v2/live' },
      ).endpointUrl.href,
    ).toBe('https://option.example.com/api/v2/live');
  });

  it('reads DVC_STUDIO_OFFLINE as DVCLive does, plus `on`; an option winning', () => {
    for (const value of ['on', 'yes', '1', 'true', 'ON', 'Yes', 'TRUE', 'y', ' true '])
      expect(isOfflineValue(value), value).toBe(true);
    for (const value of ['off', 'no', '0', 'false', '', '  ', 'OFF', undefined])
      expect(isOfflineValue(value), String(value)).toBe(false);
    // The reference looks for its words anywhere in the value (re.search), so these are offline too.
    for (const value of ['True1', 'offline-yes']) expect(isOfflineValue(value), value).toBe(true);
    expect(resolveStudioConfig({}, { DVC_STUDIO_OFFLINE: 'true' }).offline).toBe(true);
    expect(resolveStudioConfig({ offline: false }, { DVC_STUDIO_OFFLINE: 'true' }).offline).toBe(
      false,
    );
  });

  it('decides in one place whether the sink posts: on, yes, 1, true are offline; their opposites post', () => {
    for (const value of ['on', 'yes', '1', 'true']) {
      const environment = { DVC_STUDIO_TOKEN: TOKEN, DVC_STUDIO_OFFLINE: value };
      expect(studioSinkFromEnvironment(environment), value).toBeUndefined();
      expect(createStudioSink({ environment }).name, value).toBe('studio:offline');
    }
    for (const value of ['off', 'no', '0', 'false', '']) {
      const environment = { DVC_STUDIO_TOKEN: TOKEN, DVC_STUDIO_OFFLINE: value };
      expect(studioSinkFromEnvironment(environment)?.name, value).toMatch(/^studio:https:/);
      expect(createStudioSink({ environment }).name, value).toMatch(/^studio:https:/);
    }
  });

  it('takes the experiment name from the option, then DVC_EXP_NAME', () => {
    expect(
      resolveStudioConfig({ experimentName: 'mine' }, { DVC_EXP_NAME: 'dvc' }).experimentName,
    ).toBe('mine');
    expect(resolveStudioConfig({}, { DVC_EXP_NAME: 'dvc' }).experimentName).toBe('dvc');
    expect(resolveStudioConfig({}, {}).experimentName).toBeUndefined();
  });

  it('checks a baseline sha: 40 characters of [0-9a-h] after lowercasing', () => {
    expect(normalizeBaselineSha('ABCDEF0123456789abcdef0123456789abcdef01')).toBe(
      'abcdef0123456789abcdef0123456789abcdef01',
    );
    expect(normalizeBaselineSha('abc')).toBeUndefined();
    expect(normalizeBaselineSha('z'.repeat(40))).toBeUndefined();
    expect(() => resolveStudioConfig({ baselineSha: 'HEAD' }, {})).toThrow(
      /options.baselineSha "HEAD" is not a 40-character commit sha/,
    );
  });
});

describe('createStudioSink and studioSinkFromEnvironment', () => {
  it('createStudioSink needs a token and says where to set it', () => {
    expect(() => createStudioSink({ environment: {} })).toThrow(
      /needs an access token; set DVC_STUDIO_TOKEN \(or STUDIO_TOKEN\)/,
    );
  });

  it('createStudioSink posts nothing when offline', () => {
    const sink = createStudioSink({ token: TOKEN, environment: { DVC_STUDIO_OFFLINE: '1' } });
    expect(sink.name).toBe('studio:offline');
  });

  it('studioSinkFromEnvironment is off without a token or when offline, on with a token', () => {
    expect(studioSinkFromEnvironment({})).toBeUndefined();
    expect(
      studioSinkFromEnvironment({ DVC_STUDIO_TOKEN: TOKEN, DVC_STUDIO_OFFLINE: 'yes' }),
    ).toBeUndefined();
    const sink = studioSinkFromEnvironment({
      STUDIO_TOKEN: TOKEN,
      DVC_STUDIO_URL: 'https://studio.example.com',
    });
    expect(sink?.name).toBe('studio:https://studio.example.com');
    expect(sink?.name).not.toContain(TOKEN);
  });

  it('never puts the token in a configuration error', () => {
    for (const environment of [
      { DVC_STUDIO_TOKEN: TOKEN, DVC_STUDIO_URL: 'not a url' },
      { DVC_STUDIO_TOKEN: TOKEN, DVC_STUDIO_URL: 'http://insecure.example.com' },
    ]) {
      expect(() => studioSinkFromEnvironment(environment)).toThrow();
      try {
        studioSinkFromEnvironment(environment);
      } catch (error) {
        expect(String(error)).not.toContain(TOKEN);
      }
    }
  });
});
