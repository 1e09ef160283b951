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

/**
 * Text a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+1`, `-1+2`, `@SUM(…)`, or text that
 * starts with a tab or carriage return) gets a leading `'`, as OWASP advises against CSV
 * injection: the cell then shows as text. Labels, comments, reviewer names and even ids (which may
 * start with `-`) are text from outside; only numbers this service formats are left alone.
 */
const formulaStart = /^[=+\-@\t\r]/;

/**
 * RFC 4180: quote every field that holds a quote, comma or line break, and every neutralised one;
 * double inner quotes.
 */
function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = formulaStart.test(value) ? `'${value}` : value;
  return text !== value || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvHeader = `${columns.join(',')}\r\n`;
export const csvLine = (item: ReviewItem) => `${columns.map((c) => csvField(row(item)[c])).join(',')}\r\n`;
export const jsonLine = (item: ReviewItem) => `${JSON.stringify(item)}\n`;
