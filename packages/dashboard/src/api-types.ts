/** The shapes the query API answers with (see the server's /api/v1/openapi.json). */
export type RunState = 'running' | 'stale' | 'completed' | 'failed' | 'interrupted';
export type XAxis = 'step' | 'time' | 'relative';

export interface SeriesSummary {
  name: string;
  metric: string;
  count: number;
  nanCount: number;
  min?: unknown;
  max?: unknown;
  firstStep: number;
  lastStep: number;
  latest: { step: number; value: unknown; ts: number };
  lastLogged: { step: number; value: unknown; ts: number };
}

export interface RunItem {
  id: string;
  experiment: string;
  name: string;
  state: RunState;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  lastEventAt: number;
  message?: string;
  tags: string[];
  git?: { sha?: string; branch?: string; repoUrl?: string; dirty?: boolean };
  machine?: Record<string, unknown>;
  params: Record<string, unknown>;
  summary?: Record<string, unknown>;
  error?: { name?: string; message: string; stack?: string };
  metrics?: Record<string, SeriesSummary> | SeriesSummary[];
}

export interface Bucket {
  x: number;
  firstStep: number;
  lastStep: number;
  firstTs: number;
  lastTs: number;
  count: number;
  nanCount: number;
  min?: unknown;
  max?: unknown;
  last: unknown;
}

export interface PlotRecord {
  name: string;
  plotKind: string;
  step?: number;
  ts: number;
  rows: Array<Record<string, unknown>>;
  x?: string;
  y?: string;
  title?: string;
  xLabel?: string;
  yLabel?: string;
}

export interface ImageRecord {
  name: string;
  step: number;
  ts: number;
  mime: string;
  size: number;
  uri?: string;
}

export interface AnnotationRecord {
  ts: number;
  step?: number;
  level: string;
  text: string;
}

export interface ArtifactRecord {
  ts: number;
  name: string;
  type: string;
  path: string;
  size: number;
  sha256: string;
}

/** A `batch` frame of the live stream. */
export interface BatchFrame {
  run: { id: string; experiment: string; name: string };
  state: RunState;
  points: Record<string, Array<[number, unknown, number]>>;
  events?: Record<string, number>;
}
