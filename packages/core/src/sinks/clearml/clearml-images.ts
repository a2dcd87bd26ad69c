/**
 * Debug images: the bytes are uploaded to ClearML's file server, then a `training_debug_image`
 * event points at them (backends.md A.5). The file server takes a multipart POST to `/` and saves
 * each part under its form field's name (clearml-server fileserver.py); the path follows the
 * SDK's layout, `<project>/<task name>.<task id>/metrics/<metric>/<variant>/<file>`.
 */
import { randomBytes } from 'node:crypto';
import type { ImageEvent } from '../../protocol/events.js';
import { type ClearmlEventBody, clearmlSeries } from './clearml-events.js';

const EXTENSIONS: Record<ImageEvent['mime'], string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
};

/** The image's series: its name without the file extension livestep's image names carry. */
function imageSeries(event: ImageEvent) {
  return clearmlSeries(event.name.replace(/\.(png|jpe?g|gif)$/i, ''));
}

/** One path segment the file server and a browser take as it is. */
function segment(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9._=-]+/g, '_').replace(/^\.+/, '_');
  return safe === '' ? '_' : safe.slice(0, 120);
}

export interface ImageUpload {
  /** Where the file goes on the file server (the form field's name). */
  path: string;
  body: Buffer;
  contentType: string;
}

export function imageUpload(
  event: ImageEvent,
  bytes: Buffer,
  where: { project: string; taskName: string; taskId: string },
): ImageUpload {
  const { metric, variant } = imageSeries(event);
  const file = `${segment(metric)}_${segment(variant)}_${String(event.step).padStart(8, '0')}.${EXTENSIONS[event.mime]}`;
  const path = [
    segment(where.project),
    `${segment(where.taskName)}.${where.taskId}`,
    'metrics',
    segment(metric),
    segment(variant),
    file,
  ].join('/');
  const boundary = `livestep-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${path}"; filename="${file}"\r\nContent-Type: ${event.mime}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    path,
    body: Buffer.concat([head, bytes, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

export function imageEvent(event: ImageEvent, url: string, key: string): ClearmlEventBody {
  const { metric, variant } = imageSeries(event);
  return {
    type: 'training_debug_image',
    timestamp: Math.round(event.ts),
    iter: event.step,
    metric,
    variant,
    key,
    url,
    model_event: false,
  };
}
