/**
 * The classification side of evaluate(): what it keeps of each batch (probabilities and true
 * classes, checked against the first batch and the class labels), and what it makes of them at
 * the end: accuracy, top-k, log loss, precision, recall and F1, ROC-AUC and average precision,
 * the confusion matrix and the curves.
 */
import { confusionMatrix, type Run } from '@livestep/core';
import { type ClassificationSummary, classificationMetrics } from './classification-metrics.js';
import { type ClassCurves, classifierCurves } from './classifier-curves.js';
import type { EvaluationSettings } from './evaluate-options.js';
import { throwEvaluateError, warnAndAnnotate } from './evaluate-problems.js';
import {
  classProbabilities,
  detectScoreKind,
  type OutputRows,
  type ScoreKind,
} from './output-scores.js';
import { type BatchTargets, toClassIndices } from './targets.js';

/** What the loop keeps of a classification: probabilities and true classes, batch by batch. */
export interface ClassificationState {
  kind: ScoreKind | undefined;
  classes: number | undefined;
  probabilities: Float64Array[];
  targets: Int32Array[];
}

/** A per-class value, recorded labelled `class` after the summary metrics. */
export interface PerClassMetric {
  name: string;
  value: number;
  classLabel: string;
}

/** Turns one batch's output into probabilities, checks its targets and keeps both. */
export function scoreBatch(
  run: Run,
  state: ClassificationState,
  output: OutputRows,
  targets: BatchTargets,
  settings: EvaluationSettings,
  where: string,
): { classes: number; probabilities: Float64Array; targets: Int32Array } {
  state.kind ??= detectScoreKind(output);
  const { classes, probabilities } = classProbabilities(output, state.kind, `output of ${where}`);
  if (state.classes === undefined) {
    state.classes = classes;
    if (
      settings.classLabelsFromModel &&
      settings.classLabels !== undefined &&
      settings.classLabels.length !== classes
    ) {
      warnAndAnnotate(
        `livestep: evaluate() the model's metadata "class_names" names ${settings.classLabels.length} classes, but the model scores ${classes}; classes are named by index. Pass classLabels to name them`,
        run,
      );
      // This evaluation's own copy of the settings (see recordModel): the labels are not used.
      settings.classLabels = undefined;
    }
    if (settings.classLabels !== undefined && settings.classLabels.length !== classes) {
      throwEvaluateError(
        `option "classLabels" has ${settings.classLabels.length} labels, but the model scores ${classes} classes; pass one label per class`,
      );
    }
  } else if (classes !== state.classes) {
    throwEvaluateError(
      `${where}: the output scores ${classes} classes, earlier batches ${state.classes}`,
    );
  }
  const indices = toClassIndices(targets, {
    samples: output.rows,
    classes,
    ...(settings.classLabels !== undefined && { classLabels: settings.classLabels }),
    where,
  });
  state.probabilities.push(probabilities);
  state.targets.push(indices);
  return { classes, probabilities, targets: indices };
}

function concatenate<T extends Float64Array | Int32Array>(
  parts: T[],
  create: (length: number) => T,
): T {
  const joined = create(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/** Classification metrics and plots of the whole evaluation. */
export function summarizeClassification(
  run: Run,
  state: ClassificationState,
  settings: EvaluationSettings,
  metrics: Record<string, number>,
  perClass: PerClassMetric[],
): ClassificationSummary {
  const { names } = settings;
  const classes = state.classes!;
  const labels =
    settings.classLabels ?? Array.from({ length: classes }, (_, index) => String(index));
  const probabilities = concatenate(state.probabilities, (length) => new Float64Array(length));
  const targets = concatenate(state.targets, (length) => new Int32Array(length));
  const topK = settings.topK.filter((k) => k < classes);
  const dropped = settings.topK.filter((k) => k >= classes);
  if (settings.topKAsked && dropped.length > 0) {
    warnAndAnnotate(
      `livestep: evaluate() option "topK" asks for top-${dropped.join(', top-')} accuracy, but the model scores ${classes} classes, where top-k of k >= ${classes} is always 1, so it is not recorded; pass k below ${classes}`,
      run,
    );
  }
  const summary = classificationMetrics(probabilities, targets, classes, { topK });

  metrics[names.accuracy] = summary.accuracy;
  for (const k of topK) metrics[names.topKAccuracy(k)] = summary.topKAccuracy[k]!;
  metrics[names.logLoss] = summary.logLoss;
  for (const metric of ['precision', 'recall', 'f1'] as const) {
    for (const average of ['macro', 'micro', 'weighted'] as const) {
      metrics[names.averaged(metric, average)] = summary[average][metric];
    }
    summary.perClass.forEach((scores, index) => {
      perClass.push({
        name: names.classMetric(metric),
        value: scores[metric],
        classLabel: labels[index]!,
      });
    });
  }

  const curves = classifierCurves(probabilities, targets, classes, {
    positiveClass: positiveClassIndex(settings, labels),
    calibrationBins: settings.calibrationBins,
  });
  recordRankingMetrics(run, curves, labels, settings, metrics, perClass);
  if (settings.plots) {
    run.logPlot(names.confusionMatrix, confusionMatrix(targets, summary.predictions, { labels }));
    for (const curve of curves) {
      const label = classes === 2 ? undefined : labels[curve.positiveClass]!;
      run.logPlot(names.curve('roc', label), curve.roc);
      run.logPlot(names.curve('precision_recall', label), curve.precisionRecall);
      run.logPlot(names.curve('calibration', label), curve.calibration);
    }
  }
  return summary;
}

/**
 * ROC-AUC and average precision: of the positive class for a binary classifier, else per class
 * (one-vs-rest, labelled `class`) and their unweighted mean (`/macro`) over the classes where
 * they are defined. A class with no sample in the targets (or, for ROC-AUC, only samples of it)
 * has none: it is left out of the mean, with a warning, where scikit-learn would raise.
 */
function recordRankingMetrics(
  run: Run,
  curves: ClassCurves[],
  labels: readonly string[],
  settings: EvaluationSettings,
  metrics: Record<string, number>,
  perClass: PerClassMetric[],
): void {
  const { names } = settings;
  const undefinedFor: string[] = [];
  for (const metric of ['roc_auc', 'average_precision'] as const) {
    const read = (curve: ClassCurves) =>
      metric === 'roc_auc' ? curve.rocAuc : curve.averagePrecision;
    if (curves.length === 1) {
      const value = read(curves[0]!);
      if (value === undefined)
        undefinedFor.push(`${metric} of class ${labels[curves[0]!.positiveClass]}`);
      else metrics[names.rankingMetric(metric)] = value;
      continue;
    }
    let sum = 0;
    let defined = 0;
    for (const curve of curves) {
      const value = read(curve);
      const classLabel = labels[curve.positiveClass]!;
      if (value === undefined) {
        undefinedFor.push(`${metric} of class ${classLabel}`);
        continue;
      }
      perClass.push({ name: names.rankingMetric(metric), value, classLabel });
      sum += value;
      defined++;
    }
    if (defined > 0) metrics[names.rankingAverage(metric)] = sum / defined;
  }
  if (undefinedFor.length > 0) {
    warnAndAnnotate(
      `livestep: evaluate() records no ${undefinedFor.join(', ')}: the targets hold no sample of that class (or, for roc_auc, only samples of it), so it is not defined; it is left out of the macro average`,
      run,
    );
  }
}

function positiveClassIndex(settings: EvaluationSettings, labels: readonly string[]): number {
  const positive = settings.positiveClass;
  if (positive === undefined) return 1;
  const index = typeof positive === 'string' ? labels.indexOf(positive) : positive;
  if (!Number.isInteger(index) || index < 0 || index >= labels.length) {
    throwEvaluateError(
      `option "positiveClass" is ${JSON.stringify(positive)}; pass a class index below ${labels.length} or one of the class labels (${labels.join(', ')})`,
    );
  }
  return index;
}
