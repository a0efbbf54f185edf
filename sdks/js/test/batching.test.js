'use strict';
// Batching: calls close together go out in one POST /v1/batch; limits of 100 items and 60 KB;
// one request at a time.
const test = require('node:test');
const assert = require('node:assert/strict');
const {loadedPage, plain} = require('./fake-browser');

test('calls within 250 ms of the first go out together; later ones in the next request', async () => {
  const page = await loadedPage();
  page.sm.contact('u1', {name: 'A'});
  await page.advance(100);
  page.sm.account('acc1', {name: 'B'});
  await page.advance(100);
  page.sm.track('u1', 'e1', {});
  await page.advance(49);
  assert.equal(page.requests.length, 0);
  await page.advance(1); // 250 ms after the first call: the window does not slide
  assert.equal(page.requests.length, 1);
  assert.deepEqual(plain(page.requests[0].items), [
    {method: 'contact', contact_uid: 'u1', params: {name: 'A'}},
    {method: 'account', account_uid: 'acc1', params: {name: 'B'}},
    {method: 'event', contact_uid: 'u1', event_uid: 'e1', params: {}},
  ]);
  page.sm.track('u1', 'e2', {});
  await page.advance(250);
  assert.equal(page.requests.length, 2);
  assert.equal(page.requests[1].url, 'https://sm.example.com/v1/batch?api_token=TOKEN');
  assert.deepEqual(page.requests[1].items.map((i) => i.event_uid), ['e2']);
});

test('at most 100 items a request, oldest first, one request in flight at a time', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  for (let i = 0; i < 250; i++) page.sm.track('u1', 'e' + i, {i});
  await page.advance(250);
  assert.equal(page.requests.length, 1, 'the second batch waits for the first answer');
  assert.equal(page.requests[0].items.length, 100);
  await page.advance(10000);
  assert.equal(page.requests.length, 1);

  pending.shift().respond(200, '{"accepted":100}');
  await page.advance(0);
  assert.equal(page.requests.length, 2);
  pending.shift().respond(200, '{"accepted":100}');
  await page.advance(0);
  assert.equal(page.requests.length, 3);
  pending.shift().respond(200, '{"accepted":50}');
  await page.advance(0);

  assert.deepEqual(page.requests.map((r) => r.items.length), [100, 100, 50]);
  assert.deepEqual(page.sentItems().map((i) => i.params.i), Array.from({length: 250}, (_, i) => i));
  assert.equal(page.storage.queues().length, 0);
});

test('bodies stay under 60 KB (keepalive); a single larger item goes alone without keepalive', async () => {
  const page = await loadedPage();
  const big = 'x'.repeat(25000);
  for (let i = 0; i < 5; i++) page.sm.track('u1', 'big' + i, {blob: big});
  page.sm.track('u1', 'huge', {blob: 'é'.repeat(40000)}); // 80 KB of UTF-8
  page.sm.track('u1', 'small', {});
  await page.advance(250);
  const sizes = page.requests.map((r) => Buffer.byteLength(r.body));
  assert.deepEqual(page.requests.map((r) => r.items.map((i) => i.event_uid)),
    [['big0', 'big1'], ['big2', 'big3'], ['big4'], ['huge'], ['small']]);
  for (const size of [sizes[0], sizes[1], sizes[2], sizes[4]]) assert.ok(size < 60000, String(size));
  assert.ok(sizes[3] > 80000);
  assert.deepEqual(page.requests.map((r) => r.init.keepalive), [true, true, true, false, true]);
  assert.equal(page.requests[3].items[0].params.blob, 'é'.repeat(40000), 'UTF-8 survives');
});

test('a call made while a request is in flight goes in the next one, right after the answer', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  page.sm.track('u1', 'first', {});
  await page.advance(250);
  page.sm.track('u1', 'second', {});
  await page.advance(1000);
  assert.equal(page.requests.length, 1);
  pending.shift().respond(200, '{}');
  await page.advance(0);
  assert.equal(page.requests.length, 2);
  assert.deepEqual(page.requests[1].items.map((i) => i.event_uid), ['second']);
});

test('items refused inside a 200 answer are reported, not resent', async () => {
  const page = await loadedPage({answer: () => ({status: 200, text: '{"accepted":0,"rejected":[{"index":0}]}'})});
  page.sm.track('u1', 'e', {});
  await page.advance(60000);
  assert.equal(page.requests.length, 1);
  assert.equal(page.warnings.length, 1);
  assert.match(page.warnings[0], /refused some items/);
  assert.equal(page.storage.queues().length, 0);
});

test('params that are not JSON are refused at the call with a warning', async () => {
  const page = await loadedPage();
  page.run('var a = {}; a.self = a; salesmachine.track("u1", "cyclic", a); salesmachine.track("u1", "ok", {});');
  await page.advance(250);
  assert.match(page.warnings[0], /cannot send event/);
  assert.deepEqual(page.sentItems().map((i) => i.event_uid), ['ok']);
});

test('the queue keeps at most 1000 items: the oldest go first', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  page.sm.track('u1', 'in-flight', {});
  await page.advance(250);
  for (let i = 0; i < 1005; i++) page.sm.track('u1', 'e' + i, {i});
  const stored = page.storage.queues()[0].items;
  assert.equal(stored.length, 1001, 'the in-flight item and 1000 queued');
  assert.equal(stored[1].m.params.i, 5);
  pending.shift().respond(200, '{}');
  for (let n = 0; n < 11; n++) {
    await page.advance(250);
    if (pending.length) pending.shift().respond(200, '{}');
  }
  await page.advance(0);
  const events = page.sentItems().map((i) => i.event_uid);
  assert.equal(events.length, 1001);
  assert.equal(events[1], 'e5');
  assert.equal(events[1000], 'e1004');
});
