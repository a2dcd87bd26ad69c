/**
 * Configuration read from the environment, so the same code records locally, to a shared server
 * or to DVC Studio by setting variables, never by editing code.
 */

export const DEFAULT_DIRECTORY = 'livestep';

export interface EnvironmentConfig {
  /** LIVESTEP_DIR: the directory sink's folder (default `./livestep`). */
  directory: string;
  /** LIVESTEP_EXPERIMENT */
  experiment?: string;
  /** LIVESTEP_RUN_NAME */
  runName?: string;
  /** LIVESTEP_DISABLED: record nothing, send nothing (truthy: 1, true, yes, on). */
  disabled: boolean;
  /** LIVESTEP_URL: a livestep server to stream to (read by the HTTP sink). */
  url?: string;
  /** LIVESTEP_TOKEN: the bearer token for LIVESTEP_URL. Never logged. */
  token?: string;
  /** LIVESTEP_ALLOW_INSECURE_HTTP: allow plain http to a host that is not loopback. */
  allowInsecureHttp: boolean;
  /** LIVESTEP_RESUME: continue the run in the folder (append, next step) instead of starting clean. */
  resume: boolean;
  /** LIVESTEP_TENSORBOARD_DIR: also write TensorBoard event files into this log directory. */
  tensorboardDirectory?: string;
  /**
   * LIVESTEP_END_TIMEOUT_MS: how long `end()` waits for the sinks when the code gives no
   * `timeoutMs` (a slow or flaky tracker may need more than the default 5 s; no code change).
   */
  endTimeoutMs?: number;
  /**
   * MLFLOW_TRACKING_URI: an MLflow tracking server to record into (the MLflow sink reads its
   * other MLFLOW_* variables itself: token or user name and password, experiment name).
   */
  mlflowTrackingUri?: string;
  /**
   * DIOPTRA_API and DIOPTRA_JOB_ID: a Dioptra job to record the metrics into (both needed; the
   * Dioptra sink reads its login, DIOPTRA_USERNAME and DIOPTRA_PASSWORD, itself).
   */
  dioptra?: { apiUrl: string; jobId: string };
  /**
   * CLEARML_API_HOST (or its alias TRAINS_API_HOST): a ClearML server to record into (the ClearML
   * sink reads its keys and other CLEARML_* variables itself).
   */
  clearmlApiHost?: string;
}

const TRUTHY = /^(1|y|yes|true|on)$/i;

export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && TRUTHY.test(value.trim());
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** An hour: a longer wait at the end of a run is a mistake (a unit slip), not a wish. */
const MAX_END_TIMEOUT_MS = 3_600_000;

/** A whole number of milliseconds, 0 to an hour; anything else is refused naming the variable. */
function milliseconds(name: string, value: string | undefined): number | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  const parsed = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(parsed <= MAX_END_TIMEOUT_MS)) {
    throw new TypeError(
      `livestep: ${name} must be a whole number of milliseconds from 0 to ${MAX_END_TIMEOUT_MS} (e.g. 30000 for 30 s), got ${JSON.stringify(text)}`,
    );
  }
  return parsed;
}

export function readEnvironmentConfig(
  environment: NodeJS.ProcessEnv = process.env,
): EnvironmentConfig {
  const config: EnvironmentConfig = {
    directory: nonEmpty(environment.LIVESTEP_DIR) ?? DEFAULT_DIRECTORY,
    disabled: isTruthy(environment.LIVESTEP_DISABLED),
    allowInsecureHttp: isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP),
    resume: isTruthy(environment.LIVESTEP_RESUME),
  };
  const experiment = nonEmpty(environment.LIVESTEP_EXPERIMENT);
  if (experiment) config.experiment = experiment;
  const runName = nonEmpty(environment.LIVESTEP_RUN_NAME);
  if (runName) config.runName = runName;
  const url = nonEmpty(environment.LIVESTEP_URL);
  if (url) config.url = url;
  const token = nonEmpty(environment.LIVESTEP_TOKEN);
  if (token) config.token = token;
  const tensorboardDirectory = nonEmpty(environment.LIVESTEP_TENSORBOARD_DIR);
  if (tensorboardDirectory) config.tensorboardDirectory = tensorboardDirectory;
  const endTimeoutMs = milliseconds('LIVESTEP_END_TIMEOUT_MS', environment.LIVESTEP_END_TIMEOUT_MS);
  if (endTimeoutMs !== undefined) config.endTimeoutMs = endTimeoutMs;
  const mlflowTrackingUri = nonEmpty(environment.MLFLOW_TRACKING_URI);
  if (mlflowTrackingUri) config.mlflowTrackingUri = mlflowTrackingUri;
  const dioptraApi = nonEmpty(environment.DIOPTRA_API);
  const dioptraJobId = nonEmpty(environment.DIOPTRA_JOB_ID);
  if (dioptraApi && dioptraJobId) config.dioptra = { apiUrl: dioptraApi, jobId: dioptraJobId };
  const clearmlApiHost =
    nonEmpty(environment.CLEARML_API_HOST) ?? nonEmpty(environment.TRAINS_API_HOST);
  if (clearmlApiHost) config.clearmlApiHost = clearmlApiHost;
  return config;
}
