/**
 * A fake ClearML file server (a separate origin from the API server, backends.md A.1; 8081 in
 * docker-compose): `POST /` with a multipart/form-data body saves each file part under its form
 * field name with leading slashes removed, as clearml-fileserver's upload does
 * (`for filename, file in request.files.items(): save to filename.lstrip('/')`), and answers the
 * JSON list of the saved paths with 200; `GET /<path>` serves a saved file's bytes back.
 *
 * As Werkzeug's `request.files.items()` does, only parts with a `filename` are files (a part
 * without one is a form field the server never saves: a violation here) and only the first part
 * of a name is saved (a repeated name is a violation). A path with `..` in it is refused
 * (safe_join), and so is a body that is not multipart/form-data.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FakeClearmlHttp, readBody } from './fake-clearml-http.js';
import { boundaryOf, parseMultipart } from './fake-clearml-multipart.js';

export interface FakeClearmlUpload {
  path: string;
  data: Buffer;
  contentType: string | undefined;
  at: number;
}

export interface FakeClearmlFilesRequest {
  method: string;
  /** The URL's path (without the query). */
  path: string;
  /** `upload` (POST /), `download` (GET) or `other`. */
  kind: 'upload' | 'download' | 'other';
  status: number;
  authorization: string | undefined;
  contentType: string | undefined;
  bytes: number;
  fault: boolean;
  at: number;
}

export class FakeClearmlFiles extends FakeClearmlHttp {
  readonly requests: FakeClearmlFilesRequest[] = [];
  /** Saved files by path (no leading slash); a file uploaded again replaces the old one. */
  readonly files = new Map<string, FakeClearmlUpload>();
  /** Every file saved, in order (uploads of the same path too). */
  readonly uploads: FakeClearmlUpload[] = [];

  /**
   * `violations`: where refused uploads are recorded (the API server passes its own, so that
   * one array holds both servers' violations).
   */
  constructor(readonly violations: Array<{ path: string; message: string }> = []) {
    super();
  }

  /** A saved file's bytes (a leading slash is ignored), or undefined. */
  file(path: string): Buffer | undefined {
    return this.files.get(path.replace(/^\/+/, ''))?.data;
  }

  /** The URL a saved path is served at. */
  urlOf(path: string): string {
    return `${this.url}/${path.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/')}`;
  }

  protected async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? '';
    const kind =
      method === 'POST' && url.pathname === '/'
        ? 'upload'
        : method === 'GET' || method === 'HEAD'
          ? 'download'
          : 'other';
    const record: FakeClearmlFilesRequest = {
      method,
      path: url.pathname,
      kind,
      status: 0,
      authorization: request.headers.authorization,
      contentType: request.headers['content-type'],
      bytes: raw.length,
      fault: false,
      at: Date.now(),
    };
    this.requests.push(record);
    const send = (status: number, body: string | Buffer, type: string, headers = {}) => {
      record.status = status;
      response.writeHead(status, { 'content-type': type, ...headers }).end(body);
    };
    const refuse = (status: number, message: string) => {
      this.violations.push({ path: `files ${url.pathname}`, message });
      send(status, message, 'text/plain');
    };
    const fault = this.takeFault(kind);
    if (fault !== undefined) {
      record.fault = true;
      if (fault.status === 0) {
        request.socket.destroy();
        return;
      }
      const headers = fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter };
      const status = fault.status ?? 503;
      send(status, fault.message ?? `injected ${status}`, 'text/plain', headers);
      return;
    }
    if (kind === 'download') {
      const saved = this.files.get(decodeURIComponent(url.pathname).replace(/^\/+/, ''));
      if (saved === undefined) send(404, 'Not Found', 'text/html; charset=utf-8');
      else send(200, method === 'HEAD' ? '' : saved.data, 'application/octet-stream');
      return;
    }
    if (kind === 'other') {
      refuse(405, `${method} ${url.pathname}: the file server takes POST / and GET /<path>`);
      return;
    }
    const boundary = boundaryOf(request.headers['content-type']);
    if (boundary === undefined) {
      refuse(
        400,
        `Content-Type must be multipart/form-data with a boundary, got ${record.contentType}`,
      );
      return;
    }
    let parts: ReturnType<typeof parseMultipart>;
    try {
      parts = parseMultipart(raw, boundary);
    } catch (error) {
      refuse(400, `Malformed multipart body: ${(error as Error).message}`);
      return;
    }
    const saved: string[] = [];
    const seen = new Set<string>();
    for (const part of parts) {
      if (part.filename === undefined) {
        this.violations.push({
          path: `files ${part.name}`,
          message: `part ${JSON.stringify(part.name)} has no filename: it is a form field, which the file server does not save`,
        });
        continue;
      }
      if (part.name === '') continue;
      if (seen.has(part.name)) {
        this.violations.push({
          path: `files ${part.name}`,
          message: `a second part named ${JSON.stringify(part.name)}: only the first is saved`,
        });
        continue;
      }
      seen.add(part.name);
      const path = part.name.replace(/^\/+/, '');
      if (path.split('/').includes('..')) {
        refuse(400, `Unsafe path ${JSON.stringify(part.name)}`);
        return;
      }
      const upload = { path, data: part.data, contentType: part.contentType, at: Date.now() };
      this.files.set(path, upload);
      this.uploads.push(upload);
      saved.push(path);
    }
    // Flask sends the view's string return value (json.dumps) as text/html.
    send(200, JSON.stringify(saved), 'text/html; charset=utf-8');
  }
}

/** Starts a fake ClearML file server alone on 127.0.0.1 (a free port). */
export function startFakeClearmlFiles(): Promise<FakeClearmlFiles> {
  return new FakeClearmlFiles().start();
}
