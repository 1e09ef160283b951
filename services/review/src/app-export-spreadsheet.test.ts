import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alice, appTestKit } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// The CSV export as a spreadsheet opens it (found by an export probe), through app.inject() on a
// real Redis: Excel reads a .csv without a byte order mark in the system's ANSI code page, so every
// label or comment beyond ASCII (an emoji, Hebrew, "é") came out as mojibake; and a `broken` item's
// reason, which the listing and JSONL carry, was not in the CSV at all.
const { setup } = await appTestKit('export-spreadsheet');

const utf8Bom = Buffer.from([0xef, 0xbb, 0xbf]);

test('the CSV export starts with a UTF-8 byte order mark, then the header: Excel reads it as UTF-8', async () => {
  const { pool, app } = setup();
  await pool.add(item('sheep', { label: 'מגזין 🐑 é' }));
  const response = await app.inject({ method: 'GET', url: '/v1/reviews?format=csv', headers: alice });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/csv; charset=utf-8');
  const bytes = response.rawPayload;
  assert.deepEqual(bytes.subarray(0, 3), utf8Bom, 'a UTF-8 byte order mark first');
  const text = bytes.subarray(3).toString('utf8');
  assert.match(text, /^inferenceId,model,/, 'the header right after it, once');
  assert.ok(text.includes(',מגזין 🐑 é,'), 'non-ASCII text is UTF-8 after it');
  // JSONL is read by programs, which want no byte order mark (a JSON text must not start with one).
  const jsonl = (await app.inject({ method: 'GET', url: '/v1/reviews?format=jsonl', headers: alice })).rawPayload;
  assert.equal(jsonl[0], '{'.charCodeAt(0));
});

test('a broken item is exported with its reason and when it was set aside, in the columns before verdictId', async () => {
  const { pool, app } = setup();
  await pool.add(item('gone', { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 } }));
  await pool.add(item('fine'));
  assert.equal((await pool.lease('bob', 60_000))?.inferenceId, 'gone');
  const at = Date.UTC(2026, 10, 26, 12, 0, 0, 7);
  await pool.setAside('gone', 'bob', 'input.jpg: missing, =1+1', at);
  const text = (await app.inject({ method: 'GET', url: '/v1/reviews?format=csv', headers: alice })).rawPayload.subarray(3).toString('utf8');
  const [header, ...rows] = text.split('\r\n');
  const columns = header?.split(',') ?? [];
  assert.deepEqual(columns.slice(-5), ['shownMethod', 'shownClassIndex', 'brokenReason', 'brokenAt', 'verdictId']);
  const gone = rows.find((row) => row.startsWith('gone,'));
  assert.ok(gone?.endsWith(`,"input.jpg: missing, '=1+1",2026-11-26T12:00:00.007Z,`), gone);
  const fine = rows.find((row) => row.startsWith('fine,'));
  assert.ok(fine?.endsWith(',,,'), `no reason, no time, no verdict: ${fine}`);
});

test('the CSV carries the kept verdict\'s verdictId, as the JSONL does, in a column added after the others', async () => {
  const { pool, app } = setup();
  await pool.add(item('judged'));
  await pool.add(item('waiting'));
  assert.equal((await pool.lease('alice', 60_000))?.inferenceId, 'judged');
  const verdict = await app.inject({ method: 'POST', url: '/v1/reviews/judged', headers: alice, payload: { verdict: 'supports' } });
  assert.equal(verdict.statusCode, 200, verdict.body);
  const { verdictId } = (JSON.parse(verdict.body) as { item: { verdictId?: string } }).item;
  assert.ok(verdictId, 'the kept verdict has an id');
  const jsonl = (await app.inject({ method: 'GET', url: '/v1/reviews?format=jsonl', headers: alice })).body.split('\n').filter(Boolean);
  assert.ok(jsonl.some((line) => (JSON.parse(line) as { verdictId?: string }).verdictId === verdictId), 'the JSONL has it');
  const text = (await app.inject({ method: 'GET', url: '/v1/reviews?format=csv', headers: alice })).rawPayload.subarray(3).toString('utf8');
  const [header, ...rows] = text.split('\r\n');
  // The columns existing readers know keep their places; verdictId comes after them.
  assert.equal(header, 'inferenceId,model,modelVersion,predictedClass,label,probability,status,verdict,reviewer,comment,sampledAt,reviewedAt,samplingPolicy,samplingReason,priority,folder,shownMethod,shownClassIndex,brokenReason,brokenAt,verdictId');
  assert.ok(rows.find((row) => row.startsWith('judged,'))?.endsWith(`,${verdictId}`), 'the judged item\'s row ends with its verdictId');
  assert.ok(rows.find((row) => row.startsWith('waiting,'))?.endsWith(','), 'an item without a verdict has it empty');
});
