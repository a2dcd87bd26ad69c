/**
 * Protocol v1: the events a run is made of and the batch that carries them to a sink.
 *
 * The schemas below are the single source: the TypeScript types are derived from them with
 * `Static`, and the same objects are plain JSON Schema, exported for servers and other languages.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1 as const;

/** Longest metric, plot, image or artifact name: long enough for deep paths, short enough for file systems. */
export const MAX_NAME_LENGTH = 200;

const NonEmptyString = Type.String({ minLength: 1 });

const NameSchema = Type.String({
  minLength: 1,
  maxLength: MAX_NAME_LENGTH,
  // Control characters are never part of a name; the finer rules (no `.`/`..` segments, no
  // absolute paths) are checked by `validateName`, which the batch validator also applies.
  pattern: '^[^\\u0000-\\u001f\\u007f]+$',
  description: 'A `/`-separated path such as `train/loss`',
});

/** A finite number, or one of the strings that stand for the non-finite ones. */
export const MetricValueSchema = Type.Union(
  [Type.Number(), Type.Literal('nan'), Type.Literal('inf'), Type.Literal('-inf')],
  { description: 'a finite number, or "nan", "inf", "-inf"' },
);

export const LabelsSchema = Type.Record(Type.String(), Type.String(), {
  description: 'string labels that tell series of one metric apart, e.g. {"class": "setosa"}',
});

const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

const EventBase = {
  id: Type.String({
    pattern: UUID_PATTERN,
    description: 'client-made UUID, stable across retries, so ingestion is idempotent',
  }),
  seq: Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'per-run counter, from 0',
  }),
  ts: Type.Number({ minimum: 0, description: 'epoch milliseconds' }),
};

export const GitInfoSchema = Type.Object(
  {
    sha: Type.Optional(Type.String()),
    branch: Type.Optional(Type.String()),
    repoUrl: Type.Optional(Type.String()),
    dirty: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const MachineInfoSchema = Type.Object(
  {
    hostname: Type.Optional(Type.String()),
    platform: Type.Optional(Type.String()),
    arch: Type.Optional(Type.String()),
    release: Type.Optional(Type.String()),
    cpuCount: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    cpuModel: Type.Optional(Type.String()),
    memoryBytes: Type.Optional(Type.Number({ minimum: 0 })),
    runtime: Type.Optional(Type.String()),
    runtimeVersion: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const StartEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('start'),
    experiment: NonEmptyString,
    name: NonEmptyString,
    git: Type.Optional(Type.Union([GitInfoSchema, Type.Null()])),
    machine: Type.Optional(MachineInfoSchema),
    message: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const ParamsEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('params'),
    params: Type.Record(Type.String(), Type.Unknown(), {
      description: 'merged (deeply) into the params the run already has',
    }),
  },
  { additionalProperties: false },
);

export const MetricEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('metric'),
    name: NameSchema,
    value: MetricValueSchema,
    step: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    labels: Type.Optional(LabelsSchema),
  },
  { additionalProperties: false },
);

export const PLOT_KINDS = [
  'line',
  'scatter',
  'bar',
  'confusion',
  'roc',
  'pr',
  'calibration',
  'table',
  'custom',
] as const;

const PlotCell = Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()]);

export const PlotEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('plot'),
    name: NameSchema,
    plotKind: Type.Union(
      PLOT_KINDS.map((kind) => Type.Literal(kind)),
      { description: PLOT_KINDS.join(', ') },
    ),
    step: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    rows: Type.Array(Type.Record(Type.String(), PlotCell), {
      description:
        'data, not pictures: confusion rows are {actual, predicted, count}; roc {fpr, tpr, threshold}; ' +
        'pr {precision, recall, threshold}; calibration {prob_true, prob_pred}',
    }),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    title: Type.Optional(Type.String()),
    xLabel: Type.Optional(Type.String()),
    yLabel: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const IMAGE_MIME_TYPES = ['image/png', 'image/jpeg', 'image/gif'] as const;

export const ImageEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('image'),
    name: NameSchema,
    step: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    mime: Type.Union(IMAGE_MIME_TYPES.map((mime) => Type.Literal(mime))),
    bytes: Type.Optional(Type.String({ contentEncoding: 'base64' })),
    uri: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ANNOTATION_LEVELS = ['debug', 'info', 'warning', 'error'] as const;

export const AnnotationEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('annotation'),
    text: Type.String(),
    level: Type.Union(ANNOTATION_LEVELS.map((level) => Type.Literal(level))),
    step: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    labels: Type.Optional(LabelsSchema),
  },
  { additionalProperties: false },
);

export const ArtifactEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('artifact'),
    name: NameSchema,
    type: NonEmptyString,
    path: NonEmptyString,
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

export const RUN_STATUSES = ['completed', 'failed', 'interrupted'] as const;

export const DoneEventSchema = Type.Object(
  {
    ...EventBase,
    kind: Type.Literal('done'),
    status: Type.Union(RUN_STATUSES.map((status) => Type.Literal(status))),
    error: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(Type.String()),
          message: Type.String(),
          stack: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    summary: Type.Optional(Type.Record(Type.String(), MetricValueSchema)),
  },
  { additionalProperties: false },
);

/** Every event schema by its `kind`, so a validator can pick the one that applies. */
export const EVENT_SCHEMAS = {
  start: StartEventSchema,
  params: ParamsEventSchema,
  metric: MetricEventSchema,
  plot: PlotEventSchema,
  image: ImageEventSchema,
  annotation: AnnotationEventSchema,
  artifact: ArtifactEventSchema,
  done: DoneEventSchema,
} as const satisfies Record<string, TSchema>;

export const EventSchema = Type.Union(Object.values(EVENT_SCHEMAS));

/**
 * The start of an event id whose last 12 hex digits are the event's `seq` (the ids core's Run
 * makes, see run/event-id.ts): `8d0c1f2a-3b4c-8d5e-9f60-`.
 */
const ID_PREFIX_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-$';

/** The largest seq an id made from `idPrefix` can hold: 12 hex digits. */
export const MAX_PREFIXED_SEQ = 2 ** 48 - 1;

/** The `kind` of a block of metric points in columns. */
export const METRIC_COLUMNS_KIND = 'metrics' as const;

/**
 * Many metric points of the run in columns, in place of one `metric` object each (about a fifth
 * of the bytes, and no object per point to parse). Point `i` is the metric event
 * `{id, seq, ts, kind: "metric", name: names[nameIndex[i]], labels: labels?.[nameIndex[i]],
 * value: values[i], step}`, where seq, step and ts are the running sums of their `*Deltas`
 * columns (the first entry is the value itself), and the id is `ids[i]`, or `idPrefix` followed
 * by seq as 12 lowercase hex digits. Each point keeps its own event id, so ingest stays
 * idempotent whichever form carried the point. A server takes this form only when it announces
 * the `metric-columns` capability in its acknowledgement.
 */
export const MetricColumnsSchema = Type.Object(
  {
    kind: Type.Literal(METRIC_COLUMNS_KIND),
    names: Type.Array(NameSchema, {
      minItems: 1,
      description: 'the metric names the points use, each once per labels',
    }),
    labels: Type.Optional(
      Type.Array(Type.Union([LabelsSchema, Type.Null()]), {
        description: 'labels per entry of names (null for none), as long as names',
      }),
    ),
    idPrefix: Type.Optional(
      Type.String({
        pattern: ID_PREFIX_PATTERN,
        description: 'ids are idPrefix + seq as 12 lowercase hex digits; or give ids',
      }),
    ),
    ids: Type.Optional(
      Type.Array(Type.String({ pattern: UUID_PATTERN }), {
        description: "every point's event id (UUID); or give idPrefix",
      }),
    ),
    nameIndex: Type.Array(Type.Integer({ minimum: 0 }), {
      description: 'per point, the index of its name in names',
    }),
    seqDeltas: Type.Array(
      Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
      {
        description: "per point, seq minus the previous point's seq (the first: its seq)",
      },
    ),
    stepDeltas: Type.Array(
      Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
      {
        description: "per point, step minus the previous point's step (the first: its step)",
      },
    ),
    tsDeltas: Type.Array(Type.Number(), {
      description: "per point, ts minus the previous point's ts in epoch ms (the first: its ts)",
    }),
    values: Type.Array(MetricValueSchema, {
      description: 'per point, a finite number, or "nan", "inf", "-inf"',
    }),
  },
  { additionalProperties: false },
);

export const RunIdentitySchema = Type.Object(
  {
    id: Type.String({ pattern: UUID_PATTERN }),
    experiment: NonEmptyString,
    name: NonEmptyString,
  },
  { additionalProperties: false },
);

export const BatchSchema = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL_VERSION),
    run: RunIdentitySchema,
    events: Type.Array(EventSchema),
  },
  { $id: 'https://livestep.dev/schema/v1/batch.json', additionalProperties: false },
);

/**
 * A batch as it may travel to a server that announces `metric-columns`: its events may include
 * blocks of metric points in columns (MetricColumnsSchema) between the event objects.
 */
export const WireBatchSchema = Type.Object(
  {
    protocol: Type.Literal(PROTOCOL_VERSION),
    run: RunIdentitySchema,
    events: Type.Array(Type.Union([...Object.values(EVENT_SCHEMAS), MetricColumnsSchema])),
  },
  { $id: 'https://livestep.dev/schema/v1/wire-batch.json', additionalProperties: false },
);

export type MetricValue = Static<typeof MetricValueSchema>;
export type Labels = Static<typeof LabelsSchema>;
export type GitInfo = Static<typeof GitInfoSchema>;
export type MachineInfo = Static<typeof MachineInfoSchema>;
export type StartEvent = Static<typeof StartEventSchema>;
export type ParamsEvent = Static<typeof ParamsEventSchema>;
export type MetricEvent = Static<typeof MetricEventSchema>;
export type PlotKind = (typeof PLOT_KINDS)[number];
export type PlotEvent = Static<typeof PlotEventSchema>;
export type ImageMimeType = (typeof IMAGE_MIME_TYPES)[number];
export type ImageEvent = Static<typeof ImageEventSchema>;
export type AnnotationLevel = (typeof ANNOTATION_LEVELS)[number];
export type AnnotationEvent = Static<typeof AnnotationEventSchema>;
export type ArtifactEvent = Static<typeof ArtifactEventSchema>;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type DoneEvent = Static<typeof DoneEventSchema>;
export type RunEvent =
  | StartEvent
  | ParamsEvent
  | MetricEvent
  | PlotEvent
  | ImageEvent
  | AnnotationEvent
  | ArtifactEvent
  | DoneEvent;
export type EventKind = RunEvent['kind'];
export type RunIdentity = Static<typeof RunIdentitySchema>;
export type MetricColumns = Static<typeof MetricColumnsSchema>;

/** What a sink receives: events of one run, in `seq` order. */
export interface Batch {
  protocol: typeof PROTOCOL_VERSION;
  run: RunIdentity;
  events: RunEvent[];
}

/** A batch as sent to a server that takes metric columns (see WireBatchSchema). */
export interface WireBatch {
  protocol: typeof PROTOCOL_VERSION;
  run: RunIdentity;
  events: Array<RunEvent | MetricColumns>;
}

/** The batch JSON Schema as a plain object (draft 2020-12 compatible), for servers and tools. */
export const batchJsonSchema: Readonly<Record<string, unknown>> = JSON.parse(
  JSON.stringify(BatchSchema),
);

/** The wire batch JSON Schema (a batch that may hold metric columns) as a plain object. */
export const wireBatchJsonSchema: Readonly<Record<string, unknown>> = JSON.parse(
  JSON.stringify(WireBatchSchema),
);
