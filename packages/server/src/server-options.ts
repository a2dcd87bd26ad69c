/**
 * What `createServer` takes, and the defaults: each limit a named constant with its reason.
 */
import type { LiveHubOptions } from './live/live-hub.js';
import type { LivenessPolicy, RunStore } from './storage/run-store.js';

/** The port `livestep serve` listens on by default (LIVESTEP_URL's example, http://127.0.0.1:4318). */
export const DEFAULT_PORT = 4318;
export const DEFAULT_HOST = '127.0.0.1';
/** The data folder by default, relative to the working directory (or LIVESTEP_SERVER_DATA). */
export const DEFAULT_DATA_DIRECTORY = 'livestep-server';
/**
 * Largest request body, compressed or not: above DVC Studio's own 30 MB limit (its client sends
 * up to 29 MB of plots in one body), far above what the HTTP sink sends (5,000 events, ~1 MB).
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Most events in one batch: the HTTP sink sends at most 5,000; more is halved on 413. */
export const DEFAULT_MAX_BATCH_EVENTS = 20_000;
/**
 * Events waiting for a commit before requests get 429: ~10 full HTTP-sink batches, ~20 MB of
 * parsed events. One commit of 50,000 points takes ~0.2 s here, so the wait is short.
 */
export const DEFAULT_MAX_QUEUED_EVENTS = 50_000;
/** Events per transaction at most: a commit stays well under a second. */
export const DEFAULT_MAX_EVENTS_PER_COMMIT = 50_000;
/**
 * Bytes of request bodies being read and parsed at once before new ones get 503: bounds the
 * memory many concurrent posters can take (a parsed body is ~3x its bytes).
 */
export const DEFAULT_MAX_IN_FLIGHT_BODY_BYTES = 96 * 1024 * 1024;
/** How often silent runs are looked for (stale, then interrupted). */
export const DEFAULT_LIVENESS_SWEEP_MS = 10_000;

export interface ServerLimits {
  maxBodyBytes: number;
  maxBatchEvents: number;
  maxQueuedEvents: number;
  maxEventsPerCommit: number;
  maxInFlightBodyBytes: number;
}

export interface ServerOptions {
  /** Address to listen on (default 127.0.0.1). Another than loopback needs `token`. */
  host?: string;
  /** Port (default 4318; 0 picks a free one). */
  port?: number;
  /** The data folder of the embedded store (default LIVESTEP_SERVER_DATA, else ./livestep-server). */
  dataDirectory?: string;
  /** Required for every request when set (and to listen off loopback). Never logged. */
  token?: string;
  /**
   * Wrong tokens one client address may send within a minute before it must wait out the rest of
   * it (429; default 20, which slows guessing a short token to a crawl). Infinity turns it off.
   */
  maxFailedTokenAttempts?: number;
  /** A store to use instead of the embedded one (it is closed with the server). */
  store?: RunStore;
  /** SQLite durability: 'normal' survives a killed process, 'full' also a power cut (slower). */
  synchronous?: 'normal' | 'full';
  limits?: Partial<ServerLimits>;
  liveness?: Partial<LivenessPolicy>;
  /** How often to look for silent runs (ms). */
  livenessSweepMs?: number;
  /** Bounds of the live stream: frames kept for resuming, unsent bytes per subscriber. */
  live?: LiveHubOptions;
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  corsOrigins?: string[];
  /** Log requests (pino, via Fastify). Off by default; the token is never logged. */
  logger?: boolean;
}
