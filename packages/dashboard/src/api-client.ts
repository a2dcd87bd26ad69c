/**
 * The query API, as the page calls it: same origin, the session cookie (when the server has a
 * token) sent by the browser. A 401 means "ask for the token"; every other error carries the
 * server's message, which names the field and the fix.
 */
import { decodeMetricValue } from '@livestep/core/protocol';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called once when the server answers 401: the page then asks for the token. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export async function apiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
    ...(signal && { signal }),
  });
  const text = await response.text();
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {}
    throw new ApiError(response.status, message);
  }
  return JSON.parse(text) as T;
}

/** Hands the token to the server once; it answers with an HttpOnly session cookie. */
export async function startSession(token: string): Promise<void> {
  const response = await fetch('/api/v1/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = (JSON.parse(await response.text()) as { message?: string }).message ?? message;
    } catch {}
    throw new ApiError(response.status, message);
  }
}

/** A wire value (a number, or "nan", "inf", "-inf") as a number; null and absent as NaN. */
export function wireNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value === 'nan' || value === 'inf' || value === '-inf') return decodeMetricValue(value);
  return Number.NaN;
}

export function query(parameters: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
