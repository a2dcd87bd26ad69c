/**
 * Request bodies: JSON only, optionally gzipped (the HTTP sink gzips bodies over 32 KiB). The
 * compressed size is bounded by Fastify's body limit; the decompressed size by the same limit,
 * enforced while inflating, so a gzip bomb stops at the limit instead of filling memory. A body
 * that is not JSON is a 400 that says so (and, for Python clients, that NaN must be "nan").
 */
import { isAscii } from 'node:buffer';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http/http-error.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/**
 * A body as text. Batches are nearly always ASCII (names and ids are; numbers are), and an
 * ASCII body read as latin1 is the same string, copied instead of decoded: ~40% less time than
 * UTF-8 decoding here (the check is one fast pass). Anything else is decoded as UTF-8.
 */
function bodyText(body: Buffer): string {
  return isAscii(body) ? body.toString('latin1') : body.toString('utf8');
}

/** JSON.parse's complaint, cut: enough to find the spot, never the whole body echoed back. */
const MAX_PARSE_MESSAGE_LENGTH = 200;

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'body_too_large',
    `the body is larger than ${limit} bytes once decompressed; send fewer events per request (the livestep HTTP sink halves a batch on 413)`,
  );
}

async function decode(body: Buffer, encoding: string | undefined, limit: number): Promise<Buffer> {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  if (name !== 'gzip' && name !== 'deflate') {
    throw new HttpError(
      415,
      'unsupported_encoding',
      `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or none`,
    );
  }
  try {
    const inflater = name === 'gzip' ? gunzipAsync : inflateAsync;
    return await inflater(body, { maxOutputLength: limit });
  } catch (error) {
    if (
      (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ||
      error instanceof RangeError
    ) {
      throw tooLarge(limit);
    }
    throw new HttpError(
      400,
      'bad_encoding',
      `the body is not valid ${name} data (${(error as Error).message}); compress it whole, or send it uncompressed`,
    );
  }
}

export function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const nonFinite = /(?:^|[^"\w])(-?Infinity|NaN)(?:[^"\w]|$)/.exec(text.slice(0, 1_000_000));
    const message = nonFinite
      ? `the body contains ${nonFinite[1]}, which JSON cannot carry; send "nan", "inf" or "-inf"`
      : `the body is not JSON: ${(error as Error).message.slice(0, MAX_PARSE_MESSAGE_LENGTH)}`;
    throw new HttpError(400, 'invalid_json', message, [{ path: '(body)', message }]);
  }
}

/** Replaces Fastify's body parsers: JSON (possibly compressed) and nothing else. */
export function registerJsonBodyParser(app: FastifyInstance, maxBodyBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json'],
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
    (request, body, done) => {
      decode(body as Buffer, request.headers['content-encoding'], maxBodyBytes).then(
        (decoded) => {
          try {
            done(null, parseJsonText(bodyText(decoded)));
          } catch (error) {
            done(error as Error, undefined);
          }
        },
        (error: Error) => done(error, undefined),
      );
    },
  );
}
