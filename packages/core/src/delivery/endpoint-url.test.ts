/** The URL policy: loopback addresses, safe display of URLs and redirect targets. */
import { describe, expect, it } from 'vitest';
import {
  describeLocation,
  describeUrlSafely,
  isLoopbackHostname,
  resolveIngestUrl,
} from './endpoint-url.js';

describe('endpoint URL policy', () => {
  it('takes localhost, 127.x.x.x and ::1 for loopback, nothing else', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1']) {
      expect(isLoopbackHostname(host)).toBe(true);
    }
    for (const host of ['example.com', '10.0.0.1', '127.0.0.1.example.com', '128.0.0.1']) {
      expect(isLoopbackHostname(host)).toBe(false);
    }
  });

  it('shows a URL without credentials or query, even one that does not parse', () => {
    expect(describeUrlSafely('https://alice:pw@example.com/x?key=1')).toBe(
      'https://[credentials hidden]@example.com/x?[query hidden]',
    );
    expect(describeUrlSafely('not a url @ all')).toBe('[credentials hidden]@ all');
  });

  it('shows a redirect target by its origin only', () => {
    const base = new URL('https://example.com/api/v1/batches');
    expect(describeLocation('https://other.example/login?next=1', base)).toBe(
      'https://other.example',
    );
    expect(describeLocation('/elsewhere', base)).toBe('https://example.com');
    expect(describeLocation(undefined, base)).toBe('no address (no Location header)');
    expect(describeLocation('data:text/plain,x', base)).toBe('a data: address');
  });

  it('joins the ingest path to the base path', () => {
    expect(resolveIngestUrl('http://127.0.0.1:4318/base/').href).toBe(
      'http://127.0.0.1:4318/base/api/v1/batches',
    );
  });
});
