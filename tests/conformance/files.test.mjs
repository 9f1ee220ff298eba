// /v1/files through the official SDK: upload, retrieve, content, list with auto-pagination, delete, and
// the errors the SDK raises for another tenant's file or a bad upload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BadRequestError, NotFoundError, toFile } from 'openai';
import { KEYS, expectError, startRelay } from './harness.mjs';

let relay;
let filesDir;
before(async () => {
  filesDir = mkdtempSync(path.join(tmpdir(), 'relay-conformance-files-'));
  relay = await startRelay({ env: { Relay__Files__Path: filesDir } });
});
after(async () => {
  await relay?.stop();
  if (filesDir) rmSync(filesDir, { recursive: true, force: true });
});

const JSONL = [
  { custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-fast', messages: [{ role: 'user', content: 'héllo' }] } },
  { custom_id: 'b', method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-fast', messages: [{ role: 'user', content: 'bye' }] } },
].map((line) => JSON.stringify(line) + '\n').join('');

async function upload(client, { text = JSONL, name = 'input.jsonl', purpose = 'batch', ...rest } = {}) {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose, ...rest });
}

describe('files', () => {
  test('create returns an OpenAIFile, retrieve returns the same, content returns the exact text', async () => {
    const client = relay.client();
    const file = await upload(client);

    assert.match(file.id, /^file-[0-9A-Za-z]{30}$/);
    assert.deepEqual(Object.keys(file), ['id', 'object', 'bytes', 'created_at', 'expires_at', 'filename', 'purpose', 'status', 'status_details']);
    assert.equal(file.object, 'file');
    assert.equal(file.bytes, Buffer.byteLength(JSONL));
    assert.equal(file.filename, 'input.jsonl');
    assert.equal(file.purpose, 'batch');
    assert.equal(file.status, 'processed');
    assert.equal(file.status_details, null);
    assert.equal(file.expires_at, file.created_at + 30 * 24 * 3600);

    assert.deepEqual(await client.files.retrieve(file.id), file);
    const content = await client.files.content(file.id);
    assert.equal(await content.text(), JSONL);
  });

  test('expires_after sets expires_at', async () => {
    const file = await upload(relay.client(), { expires_after: { anchor: 'created_at', seconds: 7200 } });
    assert.equal(file.expires_at, file.created_at + 7200);
  });

  test('list auto-paginates over several pages, newest first, each file once', async () => {
    const client = relay.client(KEYS.t2); // a tenant with no other files
    const uploaded = [];
    for (let i = 0; i < 5; i++) uploaded.push((await upload(client, { text: `{"n":${i}}\n` })).id);

    const firstPage = await client.files.list({ limit: 2 });
    assert.equal(firstPage.data.length, 2);
    assert.equal(firstPage.has_more, true);
    assert.ok(firstPage.hasNextPage());

    let pages = 0;
    for await (const page of (await client.files.list({ limit: 2 })).iterPages()) {
      pages++;
      assert.ok(page.data.length <= 2);
    }
    assert.equal(pages, 3);

    const ids = [];
    for await (const file of client.files.list({ limit: 2 })) ids.push(file.id);
    assert.deepEqual(ids, [...uploaded].reverse());

    const ascending = [];
    for await (const file of client.files.list({ limit: 3, order: 'asc' })) ascending.push(file.id);
    assert.deepEqual(ascending, uploaded);
  });

  test('delete answers deleted, and the file is then not found', async () => {
    const client = relay.client();
    const file = await upload(client);

    assert.deepEqual(await client.files.delete(file.id), { id: file.id, object: 'file', deleted: true });
    await expectError(client.files.retrieve(file.id), NotFoundError, { status: 404, param: 'id' });
    await expectError(client.files.delete(file.id), NotFoundError, { status: 404 });
  });

  test("another tenant's file is NotFoundError for retrieve, content and delete, and absent from its list", async () => {
    const file = await upload(relay.client());
    const other = relay.client(KEYS.t2);

    const err = await expectError(other.files.retrieve(file.id), NotFoundError, { status: 404, param: 'id', type: 'invalid_request_error' });
    assert.match(err.message, new RegExp(`No such File object: ${file.id}`));
    await expectError(other.files.content(file.id), NotFoundError, { status: 404 });
    await expectError(other.files.delete(file.id), NotFoundError, { status: 404 });
    for await (const f of other.files.list()) assert.notEqual(f.id, file.id);

    assert.equal(await (await relay.client().files.content(file.id)).text(), JSONL); // untouched
  });

  test('a bad purpose, or a batch file that is not .jsonl, is BadRequestError naming the field', async () => {
    const client = relay.client();
    await expectError(upload(client, { purpose: 'not-a-purpose' }), BadRequestError, { status: 400, param: 'purpose' });
    await expectError(upload(client, { name: 'input.csv' }), BadRequestError, { status: 400, param: 'file' });
    await expectError(upload(client, { expires_after: { anchor: 'created_at', seconds: 60 } }), BadRequestError,
      { status: 400, param: 'expires_after[seconds]' });
  });
});
