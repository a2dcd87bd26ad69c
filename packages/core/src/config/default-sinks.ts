import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { emitLivestepWarning } from '../delivery/livestep-warning.js';
import type { Sink } from '../pipeline/sink.js';
import { createClearmlSink } from '../sinks/clearml/clearml-sink.js';
import { createDioptraSink } from '../sinks/dioptra/dioptra-sink.js';
import { createDirectorySink } from '../sinks/directory-sink.js';
import { createHttpSink } from '../sinks/http-sink.js';
import { createMlflowSink } from '../sinks/mlflow/mlflow-sink.js';
import { createTensorBoardSink } from '../sinks/tensorboard/tensorboard-sink.js';
import type { EnvironmentConfig } from './environment-config.js';

/** Where sinks keep state beside the run folder (spool files): `<parent>/.livestep/`. */
export function stateDirectoryFor(runDirectory: string): string {
  return join(dirname(resolve(runDirectory)), '.livestep');
}

/**
 * Sink packages core can add to a run's defaults without depending on them (they depend on core):
 * the package to load, the function it exports that reads the environment and returns its sink
 * (or undefined when it is off), and the variables that say the user wants it (only to say how to
 * install it when it is missing). Whether such a sink is on is decided by the package alone,
 * never here (OpenTelemetry's sdk-node picks exporters the same way): for Studio, its reading of
 * DVC_STUDIO_OFFLINE is the one there is, so core and studio cannot disagree about it.
 */
export const OPTIONAL_SINK_MODULES = {
  studio: {
    packageName: '@livestep/studio',
    factory: 'studioSinkFromEnvironment',
    askedForBy: ['DVC_STUDIO_TOKEN', 'STUDIO_TOKEN'],
  },
} as const;

/** The part of @livestep/studio that core calls; core cannot depend on it (studio depends on core). */
interface StudioModule {
  studioSinkFromEnvironment(
    environment: NodeJS.ProcessEnv,
    overrides: { directory: string; onWarning?: (message: string) => void },
  ): Sink | undefined;
}

/** Loads @livestep/studio if it is installed; the hook for tests to pretend it is not. */
export type StudioLoader = () => StudioModule;

/**
 * Finds @livestep/studio from the program's folder first (where the user installed it; pnpm's
 * strict layout hides it from core's own folder), then from core's location (npm's flat layout).
 */
const loadInstalledStudio: StudioLoader = () => {
  const { packageName } = OPTIONAL_SINK_MODULES.studio;
  try {
    return createRequire(join(process.cwd(), 'package.json'))(packageName) as StudioModule;
  } catch {
    return createRequire(import.meta.url)(packageName) as StudioModule;
  }
};

/**
 * Whether the environment names the module at all (its token is set). Not whether its sink is on:
 * the module decides that (see OPTIONAL_SINK_MODULES); this only spares loading it when unused.
 */
function asksFor(
  module: { askedForBy: readonly string[] },
  environment: NodeJS.ProcessEnv,
): boolean {
  return module.askedForBy.some((name) => Boolean(environment[name]?.trim()));
}

export interface DefaultSinkContext {
  environment: NodeJS.ProcessEnv;
  warn: (message: string) => void;
  /** Who writes the run folder, for the message another writer gets (e.g. `run "bright-owl" (id)`). */
  writer?: string;
  /** The directory sink's dvc.yaml (see DirectorySinkOptions.dvcYaml); default beside the folder. */
  dvcYaml?: string | false;
  loadStudio?: StudioLoader;
}

/**
 * The sinks a run gets when it names none: the directory sink; the HTTP sink when LIVESTEP_URL
 * is set; the MLflow sink when MLFLOW_TRACKING_URI is set; the Dioptra sink when DIOPTRA_API
 * and DIOPTRA_JOB_ID are set; the TensorBoard sink when
 * LIVESTEP_TENSORBOARD_DIR is set; the DVC Studio sink when DVC_STUDIO_TOKEN (or STUDIO_TOKEN)
 * is set, @livestep/studio is installed and says it is on (it reads DVC_STUDIO_OFFLINE; core does
 * not).
 */
export function createDefaultSinks(
  config: EnvironmentConfig,
  context?: DefaultSinkContext,
): Sink[] {
  const sinks: Sink[] = [
    createDirectorySink({
      directory: config.directory,
      resume: config.resume,
      ...(context && { onWarning: context.warn }),
      ...(context?.writer !== undefined && { writer: context.writer }),
      ...(context?.dvcYaml !== undefined && { dvcYaml: context.dvcYaml }),
    }),
  ];
  if (config.url !== undefined) {
    sinks.push(
      createHttpSink({
        url: config.url,
        ...(config.token !== undefined && { token: config.token }),
        allowInsecureHttp: config.allowInsecureHttp,
        spoolDirectory: join(stateDirectoryFor(config.directory), 'spool'),
        ...(context && { onWarning: context.warn }),
      }),
    );
  }
  if (config.tensorboardDirectory !== undefined) {
    sinks.push(
      createTensorBoardSink({
        directory: config.tensorboardDirectory,
        ...(context && { onWarning: context.warn }),
      }),
    );
  }
  if (config.mlflowTrackingUri !== undefined) {
    const mlflow = mlflowSinkFromEnvironment(config.mlflowTrackingUri, context);
    if (mlflow !== undefined) sinks.push(mlflow);
  }
  if (config.dioptra !== undefined) {
    const dioptra = dioptraSinkFromEnvironment(config.dioptra, context);
    if (dioptra !== undefined) sinks.push(dioptra);
  }
  if (config.clearmlApiHost !== undefined) {
    const clearml = clearmlSinkFromEnvironment(config.clearmlApiHost, context);
    if (clearml !== undefined) sinks.push(clearml);
  }
  if (context !== undefined && asksFor(OPTIONAL_SINK_MODULES.studio, context.environment)) {
    let studio: StudioModule | undefined;
    try {
      studio = (context.loadStudio ?? loadInstalledStudio)();
    } catch {
      context.warn(
        'livestep: DVC_STUDIO_TOKEN is set but @livestep/studio is not installed, so nothing is sent to DVC Studio; install it with `npm install @livestep/studio` (or unset DVC_STUDIO_TOKEN)',
      );
    }
    const sink = studio?.[OPTIONAL_SINK_MODULES.studio.factory](context.environment, {
      directory: config.directory,
      onWarning: context.warn,
    });
    if (sink !== undefined) sinks.push(sink);
  }
  return sinks;
}

/**
 * The MLflow sink for MLFLOW_TRACKING_URI. A URI it cannot use (a `file:` store or `databricks`,
 * which MLflow's Python client takes and a user may have set for it) is warned about, not thrown:
 * the run goes on into its other sinks.
 */
function mlflowSinkFromEnvironment(
  trackingUri: string,
  context: DefaultSinkContext | undefined,
): Sink | undefined {
  try {
    return createMlflowSink({
      trackingUri,
      ...(context && { environment: context.environment, onWarning: context.warn }),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    (context?.warn ?? emitLivestepWarning)(`${message}; nothing is sent to MLflow in this run`);
    return undefined;
  }
}

/**
 * The Dioptra sink for DIOPTRA_API and DIOPTRA_JOB_ID. Settings it cannot use (a job id that is
 * not a number, half a login) are warned about, not thrown: the run goes on into its other sinks.
 */
function dioptraSinkFromEnvironment(
  dioptra: { apiUrl: string; jobId: string },
  context: DefaultSinkContext | undefined,
): Sink | undefined {
  try {
    return createDioptraSink({
      ...dioptra,
      ...(context && { environment: context.environment, onWarning: context.warn }),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    (context?.warn ?? emitLivestepWarning)(`${message}; nothing is sent to Dioptra in this run`);
    return undefined;
  }
}

/**
 * The ClearML sink for CLEARML_API_HOST. Settings it cannot use (no keys, half a key pair, plain
 * http to a remote host) are warned about, not thrown: the run goes on into its other sinks.
 */
function clearmlSinkFromEnvironment(
  apiHost: string,
  context: DefaultSinkContext | undefined,
): Sink | undefined {
  try {
    return createClearmlSink({
      apiHost,
      ...(context && { environment: context.environment, onWarning: context.warn }),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    (context?.warn ?? emitLivestepWarning)(`${message}; nothing is sent to ClearML in this run`);
    return undefined;
  }
}
