import { describe, expect, it } from 'vitest';
import { createRedactor } from './redact.js';
import {
  MAX_QUOTED_MESSAGE_LENGTH,
  outcomeOfError,
  outcomeWithoutAnswer,
  quoteServerMessage,
} from './request-outcome.js';

const TOKEN = 'lst_secret_token_0123456789';
const redact = createRedactor([TOKEN]);

describe('quoteServerMessage', () => {
  it("quotes a JSON answer's message, and a plain answer as it is", () => {
    expect(quoteServerMessage('{"message":"events[0].value: expected a number"}', redact)).toBe(
      'events[0].value: expected a number',
    );
    expect(quoteServerMessage(Buffer.from('<h1>Bad Gateway</h1>'), redact)).toBe(
      '<h1>Bad Gateway</h1>',
    );
  });

  it('takes the token out before cutting, so no piece of it is left at the cut', () => {
    // The token straddles the cut: cutting first would leave its first characters.
    const body = `${'x'.repeat(MAX_QUOTED_MESSAGE_LENGTH - 5)}${TOKEN}${'y'.repeat(1_000)}`;
    const quoted = quoteServerMessage(body, redact);
    expect(quoted).not.toContain(TOKEN.slice(0, 5));
    expect(quoted.length).toBeLessThanOrEqual(MAX_QUOTED_MESSAGE_LENGTH + 1);
    expect(quoted.endsWith('…')).toBe(true);
  });

  it('turns control characters and line breaks into single spaces', () => {
    expect(quoteServerMessage('bad\u001b[31m\r\n\r\n  value\u0007', redact)).toBe('bad [31m value');
  });
});

describe('outcomes without an answer', () => {
  it('are retries, naming the host and the cause, never the token', () => {
    expect(
      outcomeWithoutAnswer(
        { answered: false, reason: 'network', cause: 'ECONNREFUSED' },
        { host: '127.0.0.1:9', timeoutMs: 10 },
        redact,
      ),
    ).toEqual({
      verdict: 'retry',
      reason: 'cannot reach 127.0.0.1:9 (ECONNREFUSED)',
      unreachable: true,
    });
    expect(
      outcomeWithoutAnswer(
        { answered: false, reason: 'timeout', cause: 'timeout' },
        { host: 'h', timeoutMs: 10_000 },
        redact,
      ).reason,
    ).toBe('no answer within 10000 ms');
    const error = Object.assign(new TypeError('fetch failed'), {
      cause: { code: 'ENOTFOUND', message: `getaddrinfo ENOTFOUND ${TOKEN}` },
    });
    expect(outcomeOfError(error, 'studio.example', redact).reason).toBe(
      'cannot reach studio.example (ENOTFOUND)',
    );
    expect(outcomeOfError(new Error(`bad ${TOKEN}`), 'h', redact).reason).not.toContain(TOKEN);
  });
});
