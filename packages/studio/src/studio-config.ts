/**
 * The Studio sink's configuration, resolved in the reference client's order: an explicit option
 * first, then the environment variables in their order, then a default. Only what can be known at
 * once is resolved here; git is read later, in the background (see studio-identity.ts).
 */
import { isAbsolute, resolve } from 'node:path';
// LIVESTEP_ALLOW_INSECURE_HTTP is read as core reads it, so both sinks allow the same values.
import { isLoopbackHostname, isTruthy } from '@livestep/core/sink-kit';

/** Where DVC Studio lives (its older addresses, studio.dvc.ai and studio.iterative.ai, redirect). */
export const DEFAULT_STUDIO_URL = 'https://studio.datachain.ai';
/** The live-experiments endpoint, joined to the base like a URL. */
export const DEFAULT_STUDIO_ENDPOINT = 'api/live';
/** The run folder when neither the option nor LIVESTEP_DIR names one (as @livestep/core). */
const DEFAULT_RUN_DIRECTORY = 'livestep';
/**
 * DVC_STUDIO_OFFLINE is read as DVCLive reads it (dvc-studio-client's `to_bool` and dvclive's
 * `env2bool`: `re.search("1|y|yes|true", value, re.I)`, anywhere in the value, any case), so
 * `1`, `y`, `yes`, `true` mean offline and `0`, `no`, `false`, `off` and empty mean posting.
 * Also `on`, which the reference would read as posting: it is what livestep's other switches
 * (LIVESTEP_DISABLED...) take for true, and a user who writes it means "offline". Whenever either
 * reading says offline, nothing is posted: the variable exists to keep data on the machine.
 */
const REFERENCE_OFFLINE_PATTERN = /1|y|yes|true/i;
const LIVESTEP_OFFLINE_WORD = /^on$/i;

export interface StudioConfigInput {
  /** The Studio access token; default DVC_STUDIO_TOKEN, else STUDIO_TOKEN. Sent only as `Authorization: token …`. */
  token?: string;
  /** Studio's base URL; default DVC_STUDIO_URL, else https://studio.datachain.ai. */
  url?: string;
  /** The endpoint joined to `url` like a URL; default STUDIO_ENDPOINT, else `api/live`. */
  endpoint?: string;
  /** The repository as Studio knows it; default DVC_EXP_GIT_REMOTE, DVC_STUDIO_REPO_URL, STUDIO_REPO_URL, else the git remote. */
  repoUrl?: string;
  /** The commit the experiment starts from; default git HEAD, else DVC_EXP_BASELINE_REV, else 40 zeros. */
  baselineSha?: string;
  /** The experiment's name in Studio; default DVC_EXP_NAME (set by `dvc exp run`), else the run's name. */
  experimentName?: string;
  /** The run folder, whose DVCLive-layout paths Studio files the plots under; default LIVESTEP_DIR, else `livestep`. */
  directory?: string;
  /** Where git is asked and relative folders start; default the current working directory. */
  workingDirectory?: string;
  /** Post nothing (default DVC_STUDIO_OFFLINE). */
  offline?: boolean;
  /** Allow plain http to a host that is not loopback (default LIVESTEP_ALLOW_INSECURE_HTTP). */
  allowInsecureHttp?: boolean;
}

export interface StudioConfig {
  offline: boolean;
  /** Undefined only when no token was found (the sink is then not created from the environment). */
  token: string | undefined;
  /** `POST` goes here. */
  endpointUrl: URL;
  /** From the option or the environment; undefined: read the git remote later. */
  repoUrl: string | undefined;
  /** From the option (already checked); undefined: git HEAD, else DVC_EXP_BASELINE_REV, else zeros. */
  baselineSha: string | undefined;
  /** DVC_EXP_BASELINE_REV, used when git has no HEAD. */
  baselineFromEnvironment: string | undefined;
  /** The option, else DVC_EXP_NAME; undefined: the run's name. */
  experimentName: string | undefined;
  /** The run folder, absolute. */
  directory: string;
  /** Where git is asked. */
  workingDirectory: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * Whether DVC_STUDIO_OFFLINE says offline (see REFERENCE_OFFLINE_PATTERN). The one place that
 * decides whether the Studio sink posts: core's defaults load this package and take what
 * `studioSinkFromEnvironment` returns, without a check of their own.
 */
export function isOfflineValue(value: string | undefined): boolean {
  if (value === undefined) return false;
  const trimmed = value.trim();
  return REFERENCE_OFFLINE_PATTERN.test(trimmed) || LIVESTEP_OFFLINE_WORD.test(trimmed);
}

/**
 * Joins the base URL and the endpoint as a URL join does (`new URL(endpoint, base)`): a base
 * without a trailing `/` loses its last path segment (`https://host/studio` + `api/live` ->
 * `https://host/api/live`; `https://host/studio/` + `api/live` -> `https://host/studio/api/live`).
 * Throws a clear error naming the variable to fix.
 */
export function resolveStudioEndpoint(
  base: string,
  endpoint: string = DEFAULT_STUDIO_ENDPOINT,
  allowInsecureHttp = false,
): URL {
  let baseUrl: URL;
  try {
    baseUrl = new URL(base);
  } catch {
    throw new TypeError(
      `livestep: the DVC Studio URL ${JSON.stringify(base)} (DVC_STUDIO_URL or options.url) is not a URL; use e.g. ${DEFAULT_STUDIO_URL}`,
    );
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') {
    throw new TypeError(
      `livestep: the DVC Studio URL (DVC_STUDIO_URL or options.url) must be http or https, got ${baseUrl.protocol}`,
    );
  }
  if (baseUrl.username || baseUrl.password) {
    throw new TypeError(
      'livestep: the DVC Studio URL (DVC_STUDIO_URL or options.url) must not contain credentials; put the token in DVC_STUDIO_TOKEN',
    );
  }
  if (baseUrl.protocol === 'http:' && !isLoopbackHostname(baseUrl.hostname) && !allowInsecureHttp) {
    throw new TypeError(
      `livestep: refusing plain http to DVC Studio at ${baseUrl.hostname}: the token would cross the network in clear text; use https, or set LIVESTEP_ALLOW_INSECURE_HTTP=1 to allow it`,
    );
  }
  let url: URL;
  try {
    url = new URL(endpoint, baseUrl);
  } catch {
    throw new TypeError(
      `livestep: the DVC Studio endpoint ${JSON.stringify(endpoint)} (STUDIO_ENDPOINT or options.endpoint) cannot be joined to ${baseUrl.origin}; use e.g. ${DEFAULT_STUDIO_ENDPOINT}`,
    );
  }
  if (url.origin !== baseUrl.origin) {
    throw new TypeError(
      `livestep: the DVC Studio endpoint ${JSON.stringify(endpoint)} (STUDIO_ENDPOINT or options.endpoint) points away from ${baseUrl.origin}; give a path such as ${DEFAULT_STUDIO_ENDPOINT}`,
    );
  }
  return url;
}

/**
 * A baseline sha as Studio wants it: lowercased, 40 characters of [0-9a-h] (the reference's
 * check). Returns undefined for anything else.
 */
export function normalizeBaselineSha(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const lowered = value.trim().toLowerCase();
  return /^[0-9a-h]{40}$/.test(lowered) ? lowered : undefined;
}

/** Resolves the options against the environment, in the reference client's order. */
export function resolveStudioConfig(
  input: StudioConfigInput,
  environment: NodeJS.ProcessEnv,
): StudioConfig {
  const offline = input.offline ?? isOfflineValue(environment.DVC_STUDIO_OFFLINE);
  const token =
    nonEmpty(input.token) ??
    nonEmpty(environment.DVC_STUDIO_TOKEN) ??
    nonEmpty(environment.STUDIO_TOKEN);
  const allowInsecureHttp =
    input.allowInsecureHttp ?? isTruthy(environment.LIVESTEP_ALLOW_INSECURE_HTTP);
  const endpointUrl = resolveStudioEndpoint(
    nonEmpty(input.url) ?? nonEmpty(environment.DVC_STUDIO_URL) ?? DEFAULT_STUDIO_URL,
    nonEmpty(input.endpoint) ?? nonEmpty(environment.STUDIO_ENDPOINT) ?? DEFAULT_STUDIO_ENDPOINT,
    allowInsecureHttp,
  );
  const repoUrl =
    nonEmpty(input.repoUrl) ??
    nonEmpty(environment.DVC_EXP_GIT_REMOTE) ??
    nonEmpty(environment.DVC_STUDIO_REPO_URL) ??
    nonEmpty(environment.STUDIO_REPO_URL);
  let baselineSha: string | undefined;
  if (input.baselineSha !== undefined) {
    baselineSha = normalizeBaselineSha(input.baselineSha);
    if (baselineSha === undefined) {
      throw new TypeError(
        `livestep: options.baselineSha ${JSON.stringify(input.baselineSha)} is not a 40-character commit sha; pass the full sha of the baseline commit (git rev-parse HEAD)`,
      );
    }
  }
  const workingDirectory = resolve(input.workingDirectory ?? process.cwd());
  const directoryOption =
    nonEmpty(input.directory) ?? nonEmpty(environment.LIVESTEP_DIR) ?? DEFAULT_RUN_DIRECTORY;
  return {
    offline,
    token,
    endpointUrl,
    repoUrl,
    baselineSha,
    baselineFromEnvironment: nonEmpty(environment.DVC_EXP_BASELINE_REV),
    experimentName: nonEmpty(input.experimentName) ?? nonEmpty(environment.DVC_EXP_NAME),
    directory: isAbsolute(directoryOption)
      ? directoryOption
      : resolve(workingDirectory, directoryOption),
    workingDirectory,
  };
}
