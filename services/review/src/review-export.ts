import type { ReviewItem } from '@gradcam/contracts';

// New columns go at the end: readers that take them by position keep working (service README).
const columns = ['inferenceId', 'model', 'modelVersion', 'predictedClass', 'label', 'probability', 'status', 'verdict', 'reviewer', 'comment', 'sampledAt', 'reviewedAt', 'samplingPolicy', 'samplingReason', 'priority', 'folder', 'shownMethod', 'shownClassIndex', 'brokenReason', 'brokenAt', 'verdictId'] as const;

function row(item: ReviewItem): Partial<Record<(typeof columns)[number], string | number | undefined>> {
  return {
    ...item,
    sampledAt: new Date(item.sampledAt).toISOString(),
    ...(item.reviewedAt !== undefined && { reviewedAt: new Date(item.reviewedAt).toISOString() }),
    // A `broken` item's reason (which stored file is missing or invalid) and when it was set aside.
    ...(item.brokenAt !== undefined && { brokenAt: new Date(item.brokenAt).toISOString() }),
    samplingPolicy: item.sampling.policy,
    samplingReason: item.sampling.reason,
    priority: item.sampling.priority,
    // The explanation on the reviewer's screen when the verdict was sent (empty where not said).
    shownMethod: item.shown?.method,
    shownClassIndex: item.shown?.classIndex,
    // verdictId (the kept verdict's entry in review.json, as the JSONL has it) comes with `...item`.
  };
}

/**
 * Text a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+1`, `-1+2`, `@SUM(…)`) gets a `'`
 * before it, as OWASP advises against CSV injection: the cell then shows as text. Not only at the
 * start of the field: a spreadsheet whose locale separates with `;` (Excel in most of Europe)
 * splits the line at every `;`, quotes or not, and one that is told to split on tabs at every tab,
 * and a line break in a quoted field starts a new row where the quotes are not seen; so a formula
 * character after `;`, `,`, a tab, CR or LF (and any spaces) is neutralised too: `ok;=1+1` is
 * exported as `ok;'=1+1`. Text that starts with a tab or CR gets a leading `'` as well. Labels,
 * comments, reviewer names and even ids (which may start with `-`) are text from outside; only
 * numbers this service formats are left alone. A formula character inside a word (`3-5`, `a+b`,
 * `x@y.z`, `rate=0.1`) starts no cell and is left as it is.
 */
const formulaAfterSeparator = /(^|[;,\t\r\n])( *)(?=[=+\-@])/g;
const separatorStart = /^[\t\r]/;

function neutralised(text: string): string {
  const inner = text.replace(formulaAfterSeparator, "$1$2'");
  return separatorStart.test(inner) ? `'${inner}` : inner;
}

/**
 * RFC 4180: quote every field that holds a quote, comma or line break, and every neutralised one;
 * double inner quotes. A field holding `;` or a tab is quoted too, for readers that guess the
 * separator.
 */
function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = neutralised(value);
  return text !== value || /[",;\t\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const csvHeader = `${columns.join(',')}\r\n`;
/**
 * The CSV export's first bytes: a UTF-8 byte order mark, then the header. Excel reads a .csv
 * without one in the system's ANSI code page (Windows-1252 in most of Europe and America), so
 * every character beyond ASCII (an emoji, Hebrew, "é") came out as mojibake; with it, Excel and
 * LibreOffice read UTF-8. pandas' read_csv skips it; Python's csv module wants the file opened
 * with `encoding='utf-8-sig'` (with 'utf-8' the first column is named '\ufeffinferenceId').
 */
export const csvStart = `\ufeff${csvHeader}`;
export const csvLine = (item: ReviewItem) => `${columns.map((c) => csvField(row(item)[c])).join(',')}\r\n`;
export const jsonLine = (item: ReviewItem) => `${JSON.stringify(item)}\n`;
