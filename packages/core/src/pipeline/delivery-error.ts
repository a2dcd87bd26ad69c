import type { FlushReport } from './sink.js';

/** Thrown by `flushOrThrow()` when events were not delivered; `report` tells which and why. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(readonly report: FlushReport) {
    super(describeUndelivered(report));
  }
}

function describeUndelivered(report: FlushReport): string {
  const parts = report.sinks
    .filter((sink) => sink.pending > 0 || sink.failed > 0)
    .map((sink) => {
      const reasons = Object.entries(sink.failedByReason)
        .map(([reason, count]) => `${count} ${reason}`)
        .join(', ');
      let text = `sink "${sink.sink}": ${sink.pending} pending, ${sink.failed} failed`;
      if (reasons) text += ` (${reasons})`;
      if (sink.lastError) text += `; last error: ${sink.lastError}`;
      if (sink.recoverWith) text += `; to deliver them later: ${sink.recoverWith}`;
      return text;
    });
  return `livestep: not every event was delivered: ${parts.join('; ')}`;
}
