/**
 * Errors the server answers with: a status, a stable code a client can branch on, and a message
 * that names the field and the fix. Every 4xx body has this shape:
 *
 *   {"error": "invalid_batch", "message": "events[3].value: ...", "issues": [{path, message}]}
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BadQueryError, NotFoundError } from '../storage/run-store.js';

export interface ErrorIssue {
  path: string;
  message: string;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: ErrorIssue[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A 400 for a query parameter the caller got wrong. */
export function badParameter(name: string, message: string): HttpError {
  return new HttpError(400, 'invalid_parameter', `${name}: ${message}`, [{ path: name, message }]);
}

/** What Fastify's own errors mean for a client, in words that say what to do. */
function describeFrameworkError(error: FastifyError): HttpError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(
        413,
        'body_too_large',
        'the body is larger than this server accepts; send fewer events per request (the livestep HTTP sink halves a batch on 413)',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(
        415,
        'unsupported_media_type',
        'send the body as JSON with Content-Type: application/json (gzip allowed with Content-Encoding: gzip)',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'empty_body', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'bad_content_length', 'Content-Length does not match the body');
    default:
      return undefined;
  }
}

export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.headers) reply.headers(error.headers);
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error.issues !== undefined) body.issues = error.issues;
  return reply.code(error.statusCode).send(body);
}

/** The server's error handler: every error becomes a clear JSON answer; only real faults are 5xx. */
export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error instanceof HttpError) return sendError(reply, error);
  if (error instanceof NotFoundError)
    return sendError(reply, new HttpError(404, 'not_found', error.message));
  if (error instanceof BadQueryError) {
    return sendError(reply, badParameter(error.field, error.message));
  }
  const framework = describeFrameworkError(error as FastifyError);
  if (framework !== undefined) return sendError(reply, framework);
  const status = (error as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return sendError(reply, new HttpError(status, 'bad_request', error.message));
  }
  request.log.error({ err: error }, 'request failed');
  return sendError(
    reply,
    new HttpError(500, 'internal_error', 'the server failed to answer this request; it is logged'),
  );
}
