import { describe, expect, it } from 'vitest';
import type { MlflowCall } from './mlflow-request.js';
import { type CallResult, getOrCreateExperiment } from './mlflow-run-start.js';

/** A deliver that answers from a script, recording each call's method and path. */
function scripted(answers: Array<{ status: number; json: Record<string, unknown> }>) {
  const calls: string[] = [];
  const deliver = async (call: MlflowCall): Promise<CallResult> => {
    calls.push(`${call.method} ${call.path}`);
    const answer = answers.shift()!;
    const errorCode = answer.json.error_code as string | undefined;
    if (answer.status !== 200 && !call.accept?.(answer.status, errorCode)) {
      return { kind: 'refused', reason: `${answer.status}` };
    }
    return { kind: 'answer', answer: { ...answer, ...(errorCode && { errorCode }) } };
  };
  return { calls, deliver };
}

describe('get or create the MLflow experiment', () => {
  it('uses the experiment that exists', async () => {
    const { calls, deliver } = scripted([
      { status: 200, json: { experiment: { experiment_id: '7', lifecycle_stage: 'active' } } },
    ]);
    expect(await getOrCreateExperiment(deliver, 'iris')).toEqual({ kind: 'found', id: '7' });
    expect(calls).toEqual(['GET experiments/get-by-name']);
  });

  it('creates it when it does not exist', async () => {
    const { calls, deliver } = scripted([
      { status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no' } },
      { status: 200, json: { experiment_id: '8' } },
    ]);
    expect(await getOrCreateExperiment(deliver, 'iris')).toEqual({ kind: 'found', id: '8' });
    expect(calls).toEqual(['GET experiments/get-by-name', 'POST experiments/create']);
  });

  it('looks it up again when another process created it first (RESOURCE_ALREADY_EXISTS)', async () => {
    const { calls, deliver } = scripted([
      { status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no' } },
      { status: 400, json: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'exists' } },
      { status: 200, json: { experiment: { experiment_id: '9', lifecycle_stage: 'active' } } },
    ]);
    expect(await getOrCreateExperiment(deliver, 'iris')).toEqual({ kind: 'found', id: '9' });
    expect(calls).toEqual([
      'GET experiments/get-by-name',
      'POST experiments/create',
      'GET experiments/get-by-name',
    ]);
  });

  it('says how to fix a deleted experiment', async () => {
    const { deliver } = scripted([
      { status: 200, json: { experiment: { experiment_id: '3', lifecycle_stage: 'deleted' } } },
    ]);
    const result = await getOrCreateExperiment(deliver, 'old');
    expect(result.kind === 'failed' && result.reason).toMatch(
      /"old" is deleted; restore it .* or set MLFLOW_EXPERIMENT_NAME/,
    );
  });
});
