/**
 * Calls to ClearML with the session's rules on top of the kit's retries: logs in before the first
 * call (the keys for a token, A.3); a 401 on a call means the token expired or was revoked, so it
 * logs in again, once, and resends; refused keys, or a 401 again after that login, stop posting.
 * A file server upload that is refused never stops the rest (the sink gives up on images only).
 * A 500 is retried MAX_INTERNAL_ERRORS times, then that call is refused: a body the server fails
 * on must not hold up every later one (ClearML's SDK does not retry a 500 at all).
 */
import type { BackgroundPoster } from '../../delivery/background-poster.js';
import {
  CLEARML_LOGIN,
  type ClearmlCall,
  type ClearmlTransport,
  callClearml,
} from './clearml-request.js';
import type { ClearmlResult } from './clearml-task.js';

/** Answers 500 to one call before it is taken as refused. */
export const MAX_INTERNAL_ERRORS = 3;

export interface Bounds {
  signal?: AbortSignal;
  deadline?: () => number;
}

export class ClearmlCaller {
  constructor(
    private readonly transport: ClearmlTransport,
    private readonly poster: BackgroundPoster,
  ) {}

  /** One call, logging in first (or again, once, after a 401). */
  async request(call: ClearmlCall, bounds: Bounds = {}): Promise<ClearmlResult> {
    const { session } = this.transport;
    const upload = call.url !== undefined;
    for (let relogged = false; ; relogged = true) {
      if (session.token === undefined && !(await this.login(bounds))) return { kind: 'stopped' };
      let data: unknown;
      let internalErrors = 0;
      const posted = await this.poster.post(async (signal, timeoutMs) => {
        const judged = await callClearml(this.transport, call, signal, timeoutMs);
        data = judged.answer?.data;
        if (judged.status === 500 && judged.outcome.verdict === 'retry') {
          internalErrors++;
          if (internalErrors >= MAX_INTERNAL_ERRORS) {
            return {
              verdict: 'permanent',
              reason: `${judged.outcome.reason} (${internalErrors} times)`,
              status: 500,
              message: '',
              stopsPosting: false,
            };
          }
        }
        return judged.outcome;
      }, bounds);
      if (posted.kind === 'delivered') return { kind: 'answer', data };
      if (posted.kind === 'stopped') return posted;
      const { outcome } = posted;
      if (outcome.status === 401 && !relogged) {
        // The token expired (or was revoked): log in again, once, and resend.
        session.expire();
        continue;
      }
      if (!upload && (outcome.stopsPosting || outcome.status === 401)) {
        this.poster.stopAfter(outcome);
        return { kind: 'stopped' };
      }
      this.poster.noteError(outcome.reason);
      this.poster.warnOnce(
        `refused:${call.endpoint}:${outcome.status}`,
        `livestep: ClearML refused a ${call.endpoint} call (${outcome.reason}); what it carried is counted as rejected and later calls go on`,
      );
      return { kind: 'refused', reason: outcome.reason };
    }
  }

  private async login(bounds: Bounds): Promise<boolean> {
    let data: unknown;
    const call: ClearmlCall = { endpoint: CLEARML_LOGIN, body: '{}' };
    const posted = await this.poster.post(async (signal, timeoutMs) => {
      const judged = await callClearml(this.transport, call, signal, timeoutMs);
      data = judged.answer?.data;
      return judged.outcome;
    }, bounds);
    if (posted.kind === 'stopped') return false;
    if (posted.kind === 'permanent') {
      this.poster.stopAfter({ ...posted.outcome, stopsPosting: true });
      return false;
    }
    const token = (data as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') {
      this.poster.disable(
        'rejected',
        'livestep: ClearML auth.login answered without a token',
        'login',
      );
      return false;
    }
    this.transport.session.useToken(token);
    return true;
  }

  json(endpoint: string, body: unknown, bounds?: Bounds): Promise<ClearmlResult> {
    return this.request({ endpoint, body: JSON.stringify(body) }, bounds);
  }
}
