/**
 * A multipart/form-data body split into its parts (RFC 7578), as Werkzeug reads it for the
 * ClearML file server: the boundary comes from the Content-Type; a part with a `filename` in its
 * Content-Disposition is a file (`request.files`), one without is a form field (`request.form`).
 */

export interface MultipartPart {
  /** The form field name (the file server takes it as the file's path). */
  name: string;
  /** Undefined for a form field (not a file). */
  filename: string | undefined;
  contentType: string | undefined;
  data: Buffer;
}

/** The boundary of a `multipart/form-data; boundary=...` Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== 'multipart/form-data') return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

function parameter(header: string, name: string): string | undefined {
  const match = new RegExp(
    `;\\s*${name}="((?:\\\\.|[^"\\\\])*)"|;\\s*${name}=([^;\\s]+)`,
    'i',
  ).exec(header);
  if (match === null) return undefined;
  if (match[2] !== undefined) return match[2];
  // Browsers and undici write `"` as %22 and line breaks as %0D / %0A in these names.
  return match[1]!
    .replace(/\\(.)/g, '$1')
    .replace(/%22/g, '"')
    .replace(/%0D/gi, '\r')
    .replace(/%0A/gi, '\n');
}

/** The parts of a body; throws with a reason when it is not well-formed. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let start = body.indexOf(delimiter);
  if (start === -1) throw new Error(`no --${boundary} delimiter in the body`);
  for (;;) {
    const after = start + delimiter.length;
    if (body.subarray(after, after + 2).toString() === '--') return parts;
    if (body.subarray(after, after + 2).toString() !== '\r\n')
      throw new Error('a delimiter line must end with CRLF');
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), after);
    if (next === -1) throw new Error(`the body has no closing --${boundary}--`);
    const part = body.subarray(after + 2, next);
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) throw new Error('a part has no blank line after its headers');
    const headers = new Map<string, string>();
    for (const line of part.subarray(0, split).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition');
    if (disposition === undefined || !/^form-data\b/i.test(disposition))
      throw new Error('a part has no Content-Disposition: form-data');
    const name = parameter(disposition, 'name');
    if (name === undefined) throw new Error('a part has no name');
    parts.push({
      name,
      filename: parameter(disposition, 'filename'),
      contentType: headers.get('content-type'),
      data: Buffer.from(part.subarray(split + 4)),
    });
    start = next + 2;
  }
}
