// Issue 12 review (found while deleting a tenant mid-batch): a tenant deleted and re-created with the same id must
// not list the old tenant's files. On main the re-created tenant's GET /v1/files lists the old file (retrieve is 404)
// when nothing listed the files before the delete.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { ADMIN_KEY, startRelay } from './harness.mjs';

let relay;
before(async () => { relay = await startRelay({}); });
after(() => relay?.stop());

async function admin(method, pathname, body) {
  const res = await fetch(relay.origin + pathname, {
    method, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

for (const listedBefore of [false, true]) {
  test(`a re-created tenant lists none of the deleted tenant's files (listed before the delete: ${listedBefore})`, async () => {
    const id = `reborn-${listedBefore ? 'l' : 'n'}`;
    let created = await admin('POST', '/admin/tenants', { id });
    assert.equal(created.status, 201);
    let client = new OpenAI({ apiKey: created.body.key.key, baseURL: relay.baseURL, maxRetries: 0 });
    const file = await client.files.create({ file: await toFile(Buffer.from('{"a":1}\n'), 'old.jsonl'), purpose: 'batch' });
    if (listedBefore) assert.deepEqual((await client.files.list()).data.map((f) => f.id), [file.id]);
    assert.equal((await admin('DELETE', `/admin/tenants/${id}`)).status, 200);
    created = await admin('POST', '/admin/tenants', { id });
    assert.equal(created.status, 201);
    client = new OpenAI({ apiKey: created.body.key.key, baseURL: relay.baseURL, maxRetries: 0 });
    await assert.rejects(() => client.files.retrieve(file.id), (e) => e.status === 404);
    assert.deepEqual((await client.files.list()).data.map((f) => f.id), [], 'the new tenant lists no file');
  });
}
