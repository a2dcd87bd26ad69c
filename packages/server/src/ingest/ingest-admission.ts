/**
 * Admission for ingest requests, before their bodies are read: the bytes of bodies being read,
 * decompressed and parsed at once are bounded, so many clients posting large batches at the
 * same time get 503 with Retry-After (and retry) instead of growing the server's memory.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError, sendError } from '../http/http-error.js';

/** Seconds a refused client is asked to wait: the queue drains in well under that. */
export const RETRY_AFTER_SECONDS = 1;

const admitted = Symbol('livestep.admittedBytes');

export class IngestAdmission {
  private inFlightBytes = 0;

  constructor(
    private readonly maxInFlightBytes: number,
    private readonly maxBodyBytes: number,
  ) {}

  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  /** An onRequest hook: admits the request or answers 503. */
  readonly admit = async (request: FastifyRequest, reply: FastifyReply) => {
    const declared = Number(request.headers['content-length']);
    // A body without a length may be as large as the limit.
    const bytes =
      Number.isFinite(declared) && declared >= 0
        ? Math.min(declared, this.maxBodyBytes)
        : this.maxBodyBytes;
    if (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.maxInFlightBytes) {
      return sendError(
        reply,
        new HttpError(
          503,
          'overloaded',
          'the server is reading as many bodies as its memory bound allows; retry after the Retry-After delay',
          undefined,
          { 'retry-after': String(RETRY_AFTER_SECONDS) },
        ),
      );
    }
    this.inFlightBytes += bytes;
    (request as unknown as Record<symbol, number>)[admitted] = bytes;
  };

  /** An onResponse / onRequestAbort hook: releases what the request held. */
  readonly release = async (request: FastifyRequest) => {
    const holder = request as unknown as Record<symbol, number | undefined>;
    const bytes = holder[admitted];
    if (bytes === undefined) return;
    holder[admitted] = undefined;
    this.inFlightBytes -= bytes;
  };
}
