/**
 * The start of an MLflow run: the experiment by name (get or create, backends.md D.1) and
 * `runs/create`. Two processes starting the first run of a new experiment at once both see "does
 * not exist"; the second create then answers 400 RESOURCE_ALREADY_EXISTS, and the lookup is made
 * again, so both end in the one experiment.
 */
import type { MlflowKeyValue } from './mlflow-entities.js';
import type { MlflowAnswer, MlflowCall } from './mlflow-request.js';

/** What the sink's delivery of one call came to. */
export type CallResult =
  | { kind: 'answer'; answer: MlflowAnswer }
  /** Refused for good (the reason already warned about and recorded by the sink). */
  | { kind: 'refused'; reason: string }
  /** Stopped: deadline, close, or posting stopped. */
  | { kind: 'stopped' };

export type Deliver = (call: MlflowCall) => Promise<CallResult>;

/** Lookups after a RESOURCE_ALREADY_EXISTS race before giving up (one is enough in practice). */
const MAX_LOOKUPS = 3;

export type StartResult =
  | { kind: 'started'; runId: string; experimentId: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'stopped' };

function objectField(value: unknown, key: string): Record<string, unknown> | undefined {
  const field = (value as Record<string, unknown> | undefined)?.[key];
  return typeof field === 'object' && field !== null
    ? (field as Record<string, unknown>)
    : undefined;
}

/** The experiment's id, creating it when it does not exist. */
export async function getOrCreateExperiment(
  deliver: Deliver,
  name: string,
): Promise<
  { kind: 'found'; id: string } | { kind: 'failed'; reason: string } | { kind: 'stopped' }
> {
  for (let lookup = 1; lookup <= MAX_LOOKUPS; lookup++) {
    const found = await deliver({
      method: 'GET',
      path: 'experiments/get-by-name',
      query: { experiment_name: name },
      accept: (status, code) => status === 404 && code === 'RESOURCE_DOES_NOT_EXIST',
    });
    if (found.kind !== 'answer')
      return found.kind === 'stopped' ? found : { kind: 'failed', reason: found.reason };
    const experiment = objectField(found.answer.json, 'experiment');
    if (found.answer.status === 200 && typeof experiment?.experiment_id === 'string') {
      if (experiment.lifecycle_stage === 'deleted') {
        return {
          kind: 'failed',
          reason: `the MLflow experiment "${name}" is deleted; restore it (mlflow experiments restore) or set MLFLOW_EXPERIMENT_NAME to another name`,
        };
      }
      return { kind: 'found', id: experiment.experiment_id };
    }
    if (found.answer.status === 200) {
      return {
        kind: 'failed',
        reason: 'experiments/get-by-name answered without an experiment_id',
      };
    }
    const created = await deliver({
      method: 'POST',
      path: 'experiments/create',
      body: JSON.stringify({ name }),
      accept: (status, code) => status === 400 && code === 'RESOURCE_ALREADY_EXISTS',
    });
    if (created.kind !== 'answer')
      return created.kind === 'stopped' ? created : { kind: 'failed', reason: created.reason };
    const id = created.answer.json.experiment_id;
    if (created.answer.status === 200 && typeof id === 'string') return { kind: 'found', id };
    if (created.answer.status === 200) {
      return { kind: 'failed', reason: 'experiments/create answered without an experiment_id' };
    }
    // RESOURCE_ALREADY_EXISTS: another process created it between our lookup and create.
  }
  return {
    kind: 'failed',
    reason: `the MLflow experiment "${name}" could not be found or created`,
  };
}

export async function startMlflowRun(
  deliver: Deliver,
  experimentName: string,
  run: { name: string; startTime: number; tags: MlflowKeyValue[] },
): Promise<StartResult> {
  const experiment = await getOrCreateExperiment(deliver, experimentName);
  if (experiment.kind !== 'found') return experiment;
  const created = await deliver({
    method: 'POST',
    path: 'runs/create',
    body: JSON.stringify({
      experiment_id: experiment.id,
      run_name: run.name,
      start_time: Math.max(0, Math.round(run.startTime)),
      tags: run.tags,
    }),
  });
  if (created.kind !== 'answer')
    return created.kind === 'stopped' ? created : { kind: 'failed', reason: created.reason };
  const info = objectField(objectField(created.answer.json, 'run'), 'info');
  const runId = info?.run_id ?? info?.run_uuid;
  if (typeof runId !== 'string' || runId === '') {
    return { kind: 'failed', reason: 'runs/create answered without a run_id' };
  }
  return { kind: 'started', runId, experimentId: experiment.id };
}
