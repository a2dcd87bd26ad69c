import { describe, expect, it } from 'vitest';
import { resolveMlflowConfig } from './mlflow-config.js';

const TOKEN = 'dapiSECRETmlflowToken0123456789';

describe('MLflow settings', () => {
  it('posts under /api/2.0/mlflow of MLFLOW_TRACKING_URI, keeping a path prefix', () => {
    const config = resolveMlflowConfig({
      environment: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' },
    });
    expect(config.apiBase.href).toBe('http://127.0.0.1:5000/api/2.0/mlflow/');
    expect(new URL('runs/log-batch', config.apiBase).href).toBe(
      'http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch',
    );
    const prefixed = resolveMlflowConfig({
      environment: { MLFLOW_TRACKING_URI: 'https://ml.example.com/mlflow/' },
    });
    expect(prefixed.apiBase.href).toBe('https://ml.example.com/mlflow/api/2.0/mlflow/');
    expect(config.headers.authorization).toBeUndefined();
  });

  it('sends MLFLOW_TRACKING_TOKEN as Bearer, and it wins over a user name and password', () => {
    const config = resolveMlflowConfig({
      environment: {
        MLFLOW_TRACKING_URI: 'https://ml.example.com',
        MLFLOW_TRACKING_TOKEN: TOKEN,
        MLFLOW_TRACKING_USERNAME: 'ada',
        MLFLOW_TRACKING_PASSWORD: 'pw',
      },
    });
    expect(config.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(config.credentialHint).toBe('MLFLOW_TRACKING_TOKEN');
    expect(config.redact(`echo ${TOKEN}`)).toBe('echo [redacted]');
  });

  it('sends MLFLOW_TRACKING_USERNAME and _PASSWORD as Basic, and redacts the password and the header', () => {
    const config = resolveMlflowConfig({
      environment: {
        MLFLOW_TRACKING_URI: 'https://ml.example.com',
        MLFLOW_TRACKING_USERNAME: 'ada',
        MLFLOW_TRACKING_PASSWORD: 'hunter2secret',
      },
    });
    const encoded = Buffer.from('ada:hunter2secret').toString('base64');
    expect(config.headers.authorization).toBe(`Basic ${encoded}`);
    expect(config.redact(`pw hunter2secret header ${encoded}`)).not.toMatch(/hunter2secret|YWRh/);
  });

  it('needs both halves of basic auth', () => {
    expect(() =>
      resolveMlflowConfig({
        environment: { MLFLOW_TRACKING_URI: 'https://x.example', MLFLOW_TRACKING_USERNAME: 'ada' },
      }),
    ).toThrow(/MLFLOW_TRACKING_PASSWORD is not set/);
  });

  it('refuses a file: store, a local folder and databricks with a message that says what to do', () => {
    const uri = (MLFLOW_TRACKING_URI: string) => () =>
      resolveMlflowConfig({ environment: { MLFLOW_TRACKING_URI } });
    expect(uri('file:///tmp/mlruns')).toThrow(
      /file: store.*tracking server \(http:\/\/ or https:\/\//,
    );
    expect(uri('./mlruns')).toThrow(/local folder.*tracking server/);
    expect(uri('databricks')).toThrow(/"databricks".*does not read Databricks profiles/);
    expect(uri('databricks://profile')).toThrow(/databricks/);
    expect(uri('ftp://x.example')).toThrow(
      /must be an http:\/\/ or https:\/\/ tracking server, got ftp:/,
    );
    expect(() => resolveMlflowConfig({ environment: {} })).toThrow(/set MLFLOW_TRACKING_URI/);
  });

  it('never sends credentials in clear text off this machine unless allowed, and never in the URI', () => {
    const environment = {
      MLFLOW_TRACKING_URI: 'http://mlflow.internal:5000',
      MLFLOW_TRACKING_TOKEN: TOKEN,
    };
    let message = '';
    try {
      resolveMlflowConfig({ environment });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /refusing to send MLflow credentials over plain http to mlflow.internal/,
    );
    expect(message).not.toContain(TOKEN);
    expect(
      resolveMlflowConfig({ environment: { ...environment, LIVESTEP_ALLOW_INSECURE_HTTP: '1' } })
        .origin,
    ).toBe('http://mlflow.internal:5000');
    // Without credentials plain http is fine (MLflow's default `mlflow server`).
    expect(
      resolveMlflowConfig({ environment: { MLFLOW_TRACKING_URI: 'http://mlflow.internal:5000' } })
        .origin,
    ).toBe('http://mlflow.internal:5000');
    expect(() =>
      resolveMlflowConfig({
        environment: { MLFLOW_TRACKING_URI: 'https://ada:pw@ml.example.com' },
      }),
    ).toThrow(/must not contain credentials/);
  });

  it('takes the experiment from MLFLOW_EXPERIMENT_NAME, options first', () => {
    const environment = {
      MLFLOW_TRACKING_URI: 'http://localhost:5000',
      MLFLOW_EXPERIMENT_NAME: 'from-env',
    };
    expect(resolveMlflowConfig({ environment }).experimentName).toBe('from-env');
    expect(resolveMlflowConfig({ environment, experimentName: 'given' }).experimentName).toBe(
      'given',
    );
    expect(
      resolveMlflowConfig({ environment: { MLFLOW_TRACKING_URI: 'http://localhost:5000' } })
        .experimentName,
    ).toBeUndefined();
  });
});
