/**
 * The three bodies of DVC Studio's api/live, with the reference's key names:
 *
 *   start  once, first: the experiment's identity, its message (cut to 72 characters), `subdir`,
 *          and the params known so far
 *   data   step (required), params, the metrics summary; plots go in follow-up data bodies
 *   done   once, last: identity only (and `errors` when the run failed or was interrupted)
 *
 * Every body is serialized with non-finite numbers as "nan" / "inf" / "-inf".
 */
import { stringifyJsonSafe } from './json-safe.js';
import { joinPosix, metricsSummaryPath, paramsPath } from './plot-paths.js';
import type { StudioIdentity } from './studio-identity.js';
import type { RunEnding, StudioRunState } from './studio-run-state.js';

/** Studio shows a commit-like message; the reference client cuts it to this many characters. */
export const MAX_MESSAGE_LENGTH = 72;
/** The client name Studio knows (its schema allows "dvc" and "dvclive"); livestep speaks as dvclive. */
export const STUDIO_CLIENT = 'dvclive';
/** An error text sent with `done` is cut to this length: a headline, not a log. */
const MAX_ERROR_TEXT_LENGTH = 1_000;

export interface BodyContext {
  identity: StudioIdentity;
  /** The experiment's name in Studio. */
  name: string;
}

function common(type: 'start' | 'data' | 'done', context: BodyContext): Record<string, unknown> {
  return {
    type,
    repo_url: context.identity.repoUrl,
    baseline_sha: context.identity.baselineSha,
    name: context.name,
    client: STUDIO_CLIENT,
  };
}

function paramsEntry(context: BodyContext, state: StudioRunState): Record<string, unknown> {
  return { [paramsPath(context.identity.directory)]: state.params };
}

/** Cuts a message to 72 characters without splitting a surrogate pair. */
export function cutMessage(message: string): string {
  const characters = Array.from(message);
  return characters.length <= MAX_MESSAGE_LENGTH
    ? message
    : characters.slice(0, MAX_MESSAGE_LENGTH).join('');
}

export function startBody(context: BodyContext, state: StudioRunState): string {
  const body = common('start', context);
  if (state.message !== undefined) body.message = cutMessage(state.message);
  if (context.identity.subdirectory !== undefined) body.subdir = context.identity.subdirectory;
  if (state.hasParams) body.params = paramsEntry(context, state);
  return stringifyJsonSafe(body);
}

/** The first body of a data post: step, params and the full summary, no plots. */
export function dataSummaryBody(context: BodyContext, state: StudioRunState): string {
  const body = common('data', context);
  body.step = state.step;
  if (state.hasParams) body.params = paramsEntry(context, state);
  const summary = state.summary();
  if (summary !== undefined) {
    body.metrics = { [metricsSummaryPath(context.identity.directory)]: { data: summary } };
  }
  return stringifyJsonSafe(body);
}

/**
 * A data body carrying plots, as two halves around the members of `plots` (see plot-chunks.ts),
 * so its size is known before the plots are chosen.
 */
export function dataPlotsBodyParts(
  context: BodyContext,
  state: StudioRunState,
): { opening: string; closing: string } {
  const body = common('data', context);
  body.step = state.step;
  const json = stringifyJsonSafe(body);
  return { opening: `${json.slice(0, -1)},"plots":{`, closing: '}}' };
}

/** A run folder-relative path as Studio files it. */
export function studioPath(context: BodyContext, relativePath: string): string {
  return joinPosix(context.identity.directory, relativePath);
}

export function doneBody(
  context: BodyContext,
  ending: RunEnding | undefined,
  redact: (text: string) => string,
): string {
  const body = common('done', context);
  // The schema has no status field; `errors` is the only way to tell Studio a run did not complete.
  if (ending?.status === 'failed') {
    const text = ending.errorMessage ?? 'the run failed';
    body.errors = [
      {
        cls: ending.errorName ?? 'Error',
        text: redact(text).slice(0, MAX_ERROR_TEXT_LENGTH),
      },
    ];
  } else if (ending?.status === 'interrupted') {
    body.errors = [{ cls: 'Interrupted', text: 'the run was interrupted before it finished' }];
  }
  return stringifyJsonSafe(body);
}
