import type { ReviewItem } from '@gradcam/contracts';

const columns = ['inferenceId', 'model', 'modelVersion', 'predictedClass', 'label', 'probability', 'status', 'verdict', 'reviewer', 'comment', 'sampledAt', 'reviewedAt', 'samplingPolicy', 'samplingReason', 'priority', 'folder'] as const;

function row(item: ReviewItem): Partial<Record<(typeof columns)[number], string | number | undefined>> {
  return {
    ...item,
    sampledAt: new Date(item.sampledAt).toISOString(),
    ...(item.reviewedAt !== undefined && { reviewedAt: new Date(item.reviewedAt).toISOString() }),
    samplingPolicy: item.sampling.policy,
    samplingReason: item.sampling.reason,
    priority: item.sampling.priority,
  };
}

/** RFC 4180: quote every field that holds a quote, comma or line break; double inner quotes. */
function csvField(value: string | number | undefined): string {
  const text = value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvHeader = `${columns.join(',')}\r\n`;
export const csvLine = (item: ReviewItem) => `${columns.map((c) => csvField(row(item)[c])).join(',')}\r\n`;
export const jsonLine = (item: ReviewItem) => `${JSON.stringify(item)}\n`;
