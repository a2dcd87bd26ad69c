/**
 * The ClearML sink's work on the background poster: what is queued, the task once it exists, and
 * the next call to make (see clearml-sink.ts for the order and the rules).
 */
import { hostname } from 'node:os';
import type { BackgroundPoster, PosterWork } from '../../delivery/background-poster.js';
import type { Batch, DoneEvent, RunIdentity, StartEvent } from '../../protocol/events.js';
import { type Bounds, ClearmlCaller } from './clearml-caller.js';
import type { ClearmlConfig } from './clearml-config.js';
import {
  errorLogEvent,
  finiteValue,
  hyperparams,
  logEvent,
  plotEvent,
  scalarEvent,
} from './clearml-events.js';
import { imageEvent, imageUpload } from './clearml-images.js';
import { type ClearmlItem, ClearmlQueue } from './clearml-queue.js';
import type { ClearmlTransport } from './clearml-request.js';
import {
  CLEARML_STATUS_CALL,
  type ClearmlResult,
  openRunTask,
  statusBody,
} from './clearml-task.js';

/** Event kinds ClearML has no place for (they are in the run folder). */
export const CLEARML_NOT_SENT_KINDS: ReadonlySet<string> = new Set(['artifact']);
/** Images waiting for the file server, at most (base64 bytes); past it newer ones overflow. */
export const MAX_QUEUED_IMAGE_BYTES = 64 * 1024 * 1024;

export interface ClearmlStateOptions {
  config: ClearmlConfig;
  poster: BackgroundPoster;
  transport: ClearmlTransport;
  nonFinite: 'skip' | number;
  maxQueued: number;
  postIntervalMs: number;
  maxRequestBytes: number;
  onTaskLink: (url: string) => void;
  entryPoint: string | undefined;
}

const WORKER = hostname();

export class ClearmlState implements PosterWork {
  private readonly queue = new ClearmlQueue();
  private identity: RunIdentity | undefined;
  private start: StartEvent | undefined;
  private done: DoneEvent | undefined;
  private projectId: string | undefined;
  private taskId: string | undefined;
  /** `tasks.started` was answered (a task still `created` cannot be completed, failed or stopped). */
  private started = false;
  /** The task existed and had ended: starting it again needs force. */
  private reopened = false;
  private ended = false;
  private imagesRefused = false;
  private lastPostAt = Number.NEGATIVE_INFINITY;
  /** Base64 bytes of the images waiting (they are the large items). */
  private queuedImageBytes = 0;
  /** The latest step a metric had: the step of plots that carry none. */
  private lastStep = 0;

  private readonly caller: ClearmlCaller;

  constructor(private readonly options: ClearmlStateOptions) {
    this.caller = new ClearmlCaller(options.transport, options.poster);
  }

  private get poster(): BackgroundPoster {
    return this.options.poster;
  }

  private ending(): boolean {
    return this.done !== undefined && !this.ended;
  }

  pending(): number {
    const starting = this.identity !== undefined && this.taskId === undefined ? 1 : 0;
    return this.queue.events + starting + (this.ending() ? 1 : 0);
  }

  discard(): number {
    this.queuedImageBytes = 0;
    return (
      this.queue.discard() + (this.identity !== undefined && this.taskId === undefined ? 1 : 0)
    );
  }

  apply(batch: Batch): void {
    this.identity ??= batch.run;
    for (const event of batch.events) {
      switch (event.kind) {
        case 'start':
          this.start = event;
          break;
        case 'metric': {
          this.lastStep = Math.max(this.lastStep, event.step);
          // A point left out (NaN, ±inf) is not a failure of delivery: ClearML has no place for
          // it, as Dioptra has none for a plot (warned once; the run folder has it).
          const value = finiteValue(event.value) ?? this.substitute(event.name);
          if (value !== undefined) {
            this.push({ kind: 'event', body: scalarEvent(event, value), events: 1 });
          }
          break;
        }
        case 'params':
          this.push({ kind: 'hyperparams', list: hyperparams(event.params), events: 1 });
          break;
        case 'plot':
          this.push({ kind: 'event', body: plotEvent(event, this.lastStep), events: 1 });
          break;
        case 'image':
          this.push({ kind: 'image', event, events: 1 });
          break;
        case 'annotation':
          this.push({ kind: 'event', body: logEvent(event, WORKER), events: 1 });
          break;
        case 'done':
          this.done = event;
          if (event.error !== undefined) {
            const text = `${event.error.name ?? 'Error'}: ${event.error.message}${event.error.stack === undefined ? '' : `\n${event.error.stack}`}`;
            this.push({ kind: 'event', body: errorLogEvent(event.ts, text, WORKER), events: 0 });
          }
          break;
        default:
          this.poster.warnOnce(
            `not-sent:${event.kind}`,
            `livestep: the ClearML sink does not send ${event.kind} events (ClearML's events API has no place for them; the run folder has them)`,
          );
      }
    }
  }

  /** The value sent for a NaN or ±inf point, or undefined when it is left out (warned once). */
  private substitute(name: string): number | undefined {
    const { nonFinite } = this.options;
    if (typeof nonFinite === 'number') return nonFinite;
    this.poster.warnOnce(
      `non-finite:${name}`,
      `livestep: metric "${name}" has a NaN or infinite value; ClearML stores only finite numbers, so such points are left out of ClearML (not replaced with 0, as ClearML's SDK does); the run folder keeps them. Pass { nonFiniteValue: <number> } to send a substitute instead`,
    );
    return undefined;
  }

  private push(item: ClearmlItem): void {
    const imageBytes = item.kind === 'image' ? (item.event.bytes?.length ?? 0) : 0;
    if (imageBytes > 0 && this.queuedImageBytes + imageBytes > MAX_QUEUED_IMAGE_BYTES) {
      this.poster.countFailed('queue_overflow', item.events);
      this.poster.warnOnce(
        'image-overflow',
        `livestep: more than ${MAX_QUEUED_IMAGE_BYTES / 1024 / 1024} MB of images are waiting for ClearML (${this.poster.lastError ?? 'it is slow'}); newer images are not sent to ClearML (the run folder has them)`,
      );
      return;
    }
    if (this.queue.length >= this.options.maxQueued) {
      this.poster.countFailed('queue_overflow', item.events);
      this.poster.warnOnce(
        'overflow',
        `livestep: more than ${this.options.maxQueued} points, params and images are waiting for ClearML (${this.poster.lastError ?? 'it is slow'}); newer ones are not sent to ClearML (the run folder has them)`,
      );
      return;
    }
    this.queue.push(item);
    this.queuedImageBytes += imageBytes;
  }

  /** The project and the task, started; false when delivery stopped. */
  private async createTask(run: RunIdentity): Promise<boolean> {
    const opened = await openRunTask(
      (endpoint, body) => this.caller.json(endpoint, body),
      run,
      this.start,
      this.options.config.projectName ?? run.experiment,
      this.options.entryPoint,
    );
    if (opened.kind === 'stopped') return false;
    if (opened.kind === 'failed') {
      this.fail(opened.what, opened.result);
      return false;
    }
    this.projectId = opened.projectId;
    this.taskId = opened.taskId;
    // A task found by the run's tag (a resumed run, a sync after a partial delivery) goes on;
    // one that had ended is started again, with force.
    this.started = opened.status === 'in_progress';
    this.reopened = !opened.created && !this.started;
    this.linkTask(opened.taskId);
    return this.started || this.startTask(opened.taskId, {});
  }

  private linkTask(taskId: string): void {
    this.options.onTaskLink(
      `${this.options.config.webHost}/projects/${this.projectId}/experiments/${taskId}/output/log`,
    );
  }

  /**
   * `tasks.started`, until it is answered: ClearML allows completed, failed and stopped only
   * from in_progress (A.8), so the end must not go before it. A refusal is warned about and not
   * retried (the status call then says what ClearML thinks).
   */
  private async startTask(taskId: string, bounds: Bounds): Promise<boolean> {
    // A task that ended before (failed cannot go back to in_progress unforced) is reopened with force.
    const started = await this.caller.json(
      'tasks.started',
      {
        task: taskId,
        status_reason: 'livestep run started',
        ...(this.reopened && { force: true }),
      },
      bounds,
    );
    if (started.kind === 'stopped') return false;
    this.started = true;
    return true;
  }

  private fail(what: string, result: ClearmlResult): void {
    const why = result.kind === 'refused' ? result.reason : 'no id in the answer';
    this.poster.disable('rejected', `livestep: ${what}: ${why}`, `create:${what}`);
  }

  async next(): Promise<boolean> {
    const run = this.identity;
    if (run === undefined) return false;
    if (this.taskId === undefined) return this.createTask(run);
    const taskId = this.taskId;
    if (!this.started) return this.startTask(taskId, {});
    const front = this.queue.peek();
    if (front === undefined) {
      if (this.ending()) await this.end(taskId, {});
      return false;
    }
    if (front.kind === 'hyperparams') return this.sendHyperparams(taskId);
    if (front.kind === 'image') return this.uploadImage(taskId, run, front);
    return this.sendEvents(taskId);
  }

  private async sendEvents(taskId: string): Promise<boolean> {
    const chunk = this.queue.takeEvents(taskId, this.options.maxRequestBytes, (item) => {
      this.poster.countFailed('rejected', item.events);
      this.poster.warnOnce(
        'oversized',
        `livestep: a ClearML event is larger than one request may be (${this.options.maxRequestBytes} bytes); it is not sent (the run folder has it)`,
      );
    });
    if (chunk === undefined) return true;
    // A request that is not full waits out the post interval, gathering more points (a slow loop
    // must not cost one request per batch); a full one, a flush and the end go now.
    const full = chunk.full || chunk.count < this.queue.length;
    const wait = this.lastPostAt + this.options.postIntervalMs - Date.now();
    if (!full && wait > 0 && !this.poster.hurried && !this.ending()) {
      await this.poster.pause(wait);
      return true;
    }
    this.lastPostAt = Date.now();
    const result = await this.caller.request({
      endpoint: 'events.add_batch',
      body: chunk.body,
      contentType: 'application/json-lines',
    });
    if (result.kind === 'stopped') return false;
    this.queue.settle(chunk.count);
    if (result.kind === 'refused') {
      this.poster.countFailed('rejected', chunk.events);
      return true;
    }
    const answer = result.data as { errors?: unknown; errors_info?: unknown } | undefined;
    const errors = typeof answer?.errors === 'number' ? answer.errors : 0;
    if (errors > 0) {
      this.poster.countFailed('rejected', Math.min(errors, chunk.events));
      const info = this.options.transport.session.redact(JSON.stringify(answer?.errors_info ?? {}));
      this.poster.noteError(`events.add_batch refused ${errors} events: ${info.slice(0, 300)}`);
      this.poster.warnOnce(
        `event-errors:${info.slice(0, 100)}`,
        `livestep: ClearML refused ${errors} of ${chunk.count} events (${info.slice(0, 300)}); they are counted as rejected (the run folder has them)`,
      );
    }
    return true;
  }

  private async sendHyperparams(taskId: string): Promise<boolean> {
    const taken = this.queue.takeHyperparams();
    if (taken === undefined) return true;
    // `force`: ClearML edits the hyperparams of a task past `created` only when forced (an
    // in_progress task is what a live run is; the SDK's connected params do the same).
    const result = await this.caller.json('tasks.edit_hyper_params', {
      task: taskId,
      hyperparams: taken.list,
      force: true,
    });
    if (result.kind === 'stopped') return false;
    const events = this.queue.settle(taken.count);
    if (result.kind === 'refused') this.poster.countFailed('rejected', events);
    return true;
  }

  private async uploadImage(
    taskId: string,
    run: RunIdentity,
    item: Extract<ClearmlItem, { kind: 'image' }>,
  ): Promise<boolean> {
    const { event } = item;
    // The image leaves the queue on every path below but `stopped` (then it stays at the front).
    const release = () => {
      this.queuedImageBytes -= event.bytes?.length ?? 0;
    };
    const refuse = (why: string) => {
      release();
      this.queue.settle(1);
      this.poster.countFailed('rejected', item.events);
      this.poster.warnOnce(
        `image:${why}`,
        `livestep: ${why}; images are not sent to ClearML (the run folder has them)`,
      );
      return true;
    };
    if (this.imagesRefused) return refuse("ClearML's file server refused an image");
    if (event.bytes === undefined) {
      if (event.uri !== undefined && /^https?:\/\//i.test(event.uri)) {
        this.queue.replaceFront({
          kind: 'event',
          body: imageEvent(event, event.uri, event.uri),
          events: 1,
        });
        return true;
      }
      return refuse('an image event carries no bytes and no http(s) address');
    }
    const project = this.options.config.projectName ?? run.experiment;
    const upload = imageUpload(event, Buffer.from(event.bytes, 'base64'), {
      project,
      taskName: run.name,
      taskId,
    });
    const files = this.options.config.filesHost;
    const result = await this.caller.request({
      endpoint: 'file server upload',
      url: new URL('/', files),
      body: upload.body,
      contentType: upload.contentType,
    });
    if (result.kind === 'stopped') return false;
    if (result.kind === 'refused') {
      this.imagesRefused = true;
      return refuse(`ClearML's file server at ${files.origin} refused an image (${result.reason})`);
    }
    release();
    const url = `${files.origin}${files.pathname.replace(/\/+$/, '')}/${upload.path.split('/').map(encodeURIComponent).join('/')}`;
    this.queue.replaceFront({
      kind: 'event',
      body: imageEvent(event, url, upload.path),
      events: 1,
    });
    return true;
  }

  private async end(taskId: string, bounds: Bounds): Promise<void> {
    const done = this.done;
    if (done === undefined || this.ended) return;
    const result = await this.caller.json(
      CLEARML_STATUS_CALL[done.status],
      statusBody(taskId, done),
      bounds,
    );
    if (result.kind === 'stopped') return;
    this.ended = true;
    if (result.kind === 'refused') this.poster.countFailed('rejected', 1);
  }

  async finishLate(signal: AbortSignal, deadline: number): Promise<void> {
    if (!this.ending()) return;
    if (this.taskId === undefined) {
      this.poster.countFailed('send_error', 1);
      return;
    }
    const bounds = { signal, deadline: () => deadline };
    if (this.started || (await this.startTask(this.taskId, bounds))) {
      await this.end(this.taskId, bounds);
    }
    if (!this.ended && !this.poster.disabled) {
      this.poster.countFailed('send_error', 1);
      this.poster.warnOnce(
        'status_not_delivered',
        `livestep: ClearML did not take the end of the run (${this.poster.lastError ?? 'no answer before the deadline'}); it may show the task as running`,
      );
    }
  }
}
