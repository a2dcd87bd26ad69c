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
    const trackingUri = config.mlflowTrackingUri;
    const mlflow = trackerSinkFromEnvironment(
      'MLflow',
      (settings) => createMlflowSink({ trackingUri, ...settings }),
      context,
    );
    if (mlflow !== undefined) sinks.push(mlflow);
  }
  if (config.dioptra !== undefined) {
    const job = config.dioptra;
    const dioptra = trackerSinkFromEnvironment(
      'Dioptra',
      (settings) => createDioptraSink({ ...job, ...settings }),
      context,
    );
    if (dioptra !== undefined) sinks.push(dioptra);
  }
  if (config.clearmlApiHost !== undefined) {
    const apiHost = config.clearmlApiHost;
    const clearml = trackerSinkFromEnvironment(
      'ClearML',
      (settings) => createClearmlSink({ apiHost, ...settings }),
      context,
    );
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
 * A tracker sink its environment variables asked for. Settings it cannot use (an MLflow `file:`
 * store or `databricks`, which MLflow's Python client takes; a Dioptra job id that is not a
 * number; half a ClearML key pair; credentials over plain http to a remote host) are warned
 * about, not thrown: the run goes on into its other sinks.
 */
function trackerSinkFromEnvironment(
  tracker: string,
  create: (environment: {
    environment?: NodeJS.ProcessEnv;
    onWarning?: (message: string) => void;
  }) => Sink,
  context: DefaultSinkContext | undefined,
): Sink | undefined {
  try {
    return create(context ? { environment: context.environment, onWarning: context.warn } : {});
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    (context?.warn ?? emitLivestepWarning)(`${message}; nothing is sent to ${tracker} in this run`);
    return undefined;
  }
}
