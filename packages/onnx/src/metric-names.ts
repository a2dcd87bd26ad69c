/**
 * The names evaluate() records, in DVCLive's style: `/`-separated paths under a prefix (`eval`
 * by default, as DVCLive names validation metrics), units in parentheses, per-class values as
 * series labelled `class` (files `eval/precision/class=setosa.tsv`).
 *
 *   per batch (step = batch index)   eval/batch/latency (ms), eval/batch/throughput (samples per second)
 *   latency                          eval/latency/{mean,p50,p90,p99} (ms), eval/throughput (samples per second)
 *   classification                   eval/accuracy, eval/top_<k>_accuracy, eval/log_loss,
 *                                    eval/{precision,recall,f1}/{macro,micro,weighted},
 *                                    eval/{precision,recall,f1} labelled { class },
 *                                    eval/{roc_auc,average_precision} (binary), else labelled
 *                                    { class } and eval/{roc_auc,average_precision}/macro
 *   regression                       eval/mae, eval/mse, eval/rmse, eval/r2
 *   custom                           eval/<name>
 *   plots                            eval/confusion_matrix, eval/{roc,precision_recall,calibration}
 *                                    (one-vs-rest: eval/roc/class=<label>, ...);
 *                                    regression: eval/{predicted_vs_actual,residuals}
 *                                    (several outputs: eval/residuals/output=<i>, ...)
 */

/** DVCLive records validation metrics under `eval/`. */
export const DEFAULT_METRIC_PREFIX = 'eval';

/** What may not appear in a name segment (core refuses these, and `/` would split the segment). */
const UNSAFE_SEGMENT_CHARACTERS = /[\u0000-\u001f\u007f\\/:*?"<>|]/g;

/** A class label made safe as one name segment. */
export function safeSegment(label: string): string {
  const cleaned = label.replace(UNSAFE_SEGMENT_CHARACTERS, '_').trim();
  return cleaned === '' || cleaned === '.' || cleaned === '..' ? '_' : cleaned;
}

export function metricNames(prefix: string) {
  return {
    batchLatency: `${prefix}/batch/latency (ms)`,
    batchThroughput: `${prefix}/batch/throughput (samples per second)`,
    samples: `${prefix}/samples`,
    latencyMean: `${prefix}/latency/mean (ms)`,
    latencyP50: `${prefix}/latency/p50 (ms)`,
    latencyP90: `${prefix}/latency/p90 (ms)`,
    latencyP99: `${prefix}/latency/p99 (ms)`,
    throughput: `${prefix}/throughput (samples per second)`,
    accuracy: `${prefix}/accuracy`,
    topKAccuracy: (k: number) => `${prefix}/top_${k}_accuracy`,
    logLoss: `${prefix}/log_loss`,
    /** `eval/precision`, recorded per class with a `class` label; averages below it. */
    classMetric: (metric: 'precision' | 'recall' | 'f1') => `${prefix}/${metric}`,
    averaged: (metric: 'precision' | 'recall' | 'f1', average: 'macro' | 'micro' | 'weighted') =>
      `${prefix}/${metric}/${average}`,
    /**
     * `eval/roc_auc`, `eval/average_precision`: of the positive class (binary), else per class
     * with a `class` label, the macro average below it.
     */
    rankingMetric: (metric: 'roc_auc' | 'average_precision') => `${prefix}/${metric}`,
    rankingAverage: (metric: 'roc_auc' | 'average_precision') => `${prefix}/${metric}/macro`,
    meanAbsoluteError: `${prefix}/mae`,
    meanSquaredError: `${prefix}/mse`,
    rootMeanSquaredError: `${prefix}/rmse`,
    r2: `${prefix}/r2`,
    custom: (name: string) => `${prefix}/${name}`,
    /** `eval/predicted_vs_actual`; with several outputs, `eval/predicted_vs_actual/output=1`. */
    regressionPlot: (plot: 'predicted_vs_actual' | 'residuals', output?: number) =>
      output === undefined ? `${prefix}/${plot}` : `${prefix}/${plot}/output=${output}`,
    confusionMatrix: `${prefix}/confusion_matrix`,
    /** `eval/roc` for a binary classifier, `eval/roc/class=setosa` one-vs-rest. */
    curve: (curve: 'roc' | 'precision_recall' | 'calibration', classLabel?: string) =>
      classLabel === undefined
        ? `${prefix}/${curve}`
        : `${prefix}/${curve}/class=${safeSegment(classLabel)}`,
  };
}

export type MetricNames = ReturnType<typeof metricNames>;

/** The key of a per-class value in results: the series name the directory sink writes. */
export function labelledName(name: string, classLabel: string): string {
  return `${name}/class=${safeSegment(classLabel)}`;
}
