/** The session options worth recording with a run, as plain params. */
import type { InferenceSession } from 'onnxruntime-common';

/** onnxruntime-node runs on the CPU unless told otherwise. */
const DEFAULT_EXECUTION_PROVIDERS = ['cpu'];

/**
 * Options recorded as they were given; the ones left out are onnxruntime's defaults, which differ
 * between versions, so livestep does not guess them.
 */
const RECORDED_OPTIONS = [
  'intraOpNumThreads',
  'interOpNumThreads',
  'graphOptimizationLevel',
  'executionMode',
  'enableCpuMemArena',
  'enableMemPattern',
  'enableProfiling',
  'logSeverityLevel',
  'freeDimensionOverrides',
] as const;

/**
 * Execution providers (by name; `['cpu']` when none were given), threads, optimisation level and
 * the other plain options that were set.
 */
export function describeSessionOptions(
  options: InferenceSession.SessionOptions | undefined,
): Record<string, unknown> {
  const providers = options?.executionProviders;
  const described: Record<string, unknown> = {
    executionProviders:
      providers === undefined || providers.length === 0
        ? [...DEFAULT_EXECUTION_PROVIDERS]
        : providers.map((provider) =>
            typeof provider === 'string' ? provider : String(provider.name),
          ),
  };
  for (const key of RECORDED_OPTIONS) {
    const value = options?.[key];
    if (value === undefined) continue;
    described[key] = typeof value === 'object' ? { ...value } : value;
  }
  return described;
}
