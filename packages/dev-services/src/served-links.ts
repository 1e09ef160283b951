import assert from 'node:assert/strict';

/** What each presigned link should answer as: its content type and disposition, by the links' names. */
export type ServedLinks = Readonly<Record<string, readonly [contentType: string, disposition: string]>>;

/**
 * Checks that `urls` holds exactly the links `expected` names, each carrying its forced type and
 * disposition in the signed query (as S3 names them) and answered with them when fetched.
 */
export async function assertLinksServedAs(urls: Record<string, string>, expected: ServedLinks): Promise<void> {
  assert.deepEqual(Object.keys(urls).sort(), Object.keys(expected).sort());
  for (const [name, [contentType, disposition]] of Object.entries(expected)) {
    const link = urls[name] ?? assert.fail(name);
    const query = new URL(link).searchParams;
    assert.deepEqual([query.get('response-content-type'), query.get('response-content-disposition')], [contentType, disposition], `${name}: ${link}`);
    const fetched = await fetch(link);
    await fetched.arrayBuffer();
    assert.equal(fetched.status, 200, name);
    assert.deepEqual([fetched.headers.get('content-type'), fetched.headers.get('content-disposition')], [contentType, disposition], name);
  }
}
