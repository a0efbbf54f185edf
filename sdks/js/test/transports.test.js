'use strict';
// The other transports: navigator.sendBeacon when the page is hidden or left, and the legacy
// GET (XMLHttpRequest, base64 JSON in the query) for browsers without fetch.
const test = require('node:test');
const assert = require('node:assert/strict');
const {newPage, loadedPage, plain, decodeBase64url} = require('./fake-browser');

const ids = (req) => req.items.map((i) => i.messageId);

test('hiding the page sends the queue at once with sendBeacon; kept until confirmed', async () => {
  const page = await loadedPage();
  page.sm.contact('u1', {name: 'A'});
  page.sm.track('u1', 'e1', {});
  page.hide();
  assert.equal(page.requests.length, 1);
  const [beacon] = page.requests;
  assert.equal(beacon.transport, 'beacon');
  assert.equal(beacon.url, 'https://sm.example.com/v1/batch?api_token=TOKEN');
  assert.deepEqual(plain(beacon.items), [
    {method: 'contact', contact_uid: 'u1', params: {name: 'A'}},
    {method: 'event', contact_uid: 'u1', event_uid: 'e1', params: {}},
  ]);
  assert.deepEqual(page.storage.storedIds(), ids(beacon), 'a beacon\'s answer is unknown: still stored');
  await page.advance(60000);
  assert.equal(page.requests.length, 1, 'the flush timer found nothing left to send');

  // Back to visible: the beaconed items are sent again with fetch, to be confirmed.
  page.show();
  await page.advance(250);
  assert.equal(page.requests.length, 2);
  assert.equal(page.requests[1].transport, 'fetch');
  assert.deepEqual(ids(page.requests[1]), ids(beacon));
  assert.deepEqual(page.storage.queues(), []);
});

test('a refused beacon leaves the items queued for fetch', async () => {
  const page = await loadedPage();
  page.beaconAccepts = false;
  page.sm.track('u1', 'e1', {});
  page.hide();
  assert.equal(page.requests.length, 0);
  assert.equal(page.storage.storedIds().length, 1);
  await page.advance(250);
  assert.equal(page.requests.length, 1);
  assert.equal(page.requests[0].transport, 'fetch');
});

test('without sendBeacon, hiding the page sends with fetch (keepalive) at once', async () => {
  const page = await loadedPage({beacon: false});
  page.sm.track('u1', 'e1', {});
  page.hide();
  assert.equal(page.requests.length, 1);
  assert.equal(page.requests[0].transport, 'fetch');
  assert.equal(page.requests[0].init.keepalive, true);
});

test('without fetch: GET /v1/batch with the batch as base64url JSON', async () => {
  const page = newPage({fetch: false, beacon: false});
  page.pasteSnippet('TOK EN/1', {});
  page.run('salesmachine.contact("u1", {name: "Zoë"}); salesmachine.track("u1", "e1", {n: 1});');
  page.loadLibrary();
  await page.advance(0);
  assert.equal(page.requests.length, 1);
  const [req] = page.requests;
  assert.equal(req.transport, 'xhr');
  assert.equal(req.method, 'GET');
  assert.equal(req.xhr.async, true);
  assert.equal(req.xhr.timeout, 30000);
  assert.equal(req.base + req.path, 'https://sm.example.com/v1/batch');
  assert.deepEqual(Object.keys(req.query), ['api_token', 'data', 'encode', '_method']);
  assert.equal(req.query.api_token, 'TOK EN/1');
  assert.equal(req.query.encode, 'base64');
  assert.equal(req.query._method, 'post');
  assert.match(req.query.data, /^[A-Za-z0-9_-]+$/, 'URL-safe, unpadded');
  assert.deepEqual(plain(JSON.parse(decodeBase64url(req.query.data))), [
    {method: 'contact', contact_uid: 'u1', params: {name: 'Zoë'}},
    {method: 'event', contact_uid: 'u1', event_uid: 'e1', params: {n: 1}},
  ]);
  assert.equal(req.body, undefined);
});

test('GET batches keep to about 4.5 KB of JSON each, in order', async () => {
  const page = await loadedPage({fetch: false, beacon: false});
  for (let i = 0; i < 20; i++) page.sm.track('u1', 'e' + i, {pad: 'p'.repeat(500)});
  await page.advance(250);
  await page.advance(0);
  assert.ok(page.requests.length >= 3);
  for (const req of page.requests) {
    assert.ok(decodeBase64url(req.query.data).length <= 4500, String(decodeBase64url(req.query.data).length));
    assert.ok(req.url.length < 6500, String(req.url.length));
  }
  assert.deepEqual(page.sentItems().map((i) => i.event_uid), Array.from({length: 20}, (_, i) => 'e' + i));
});

test('GET: a failed request (status 0, timeout, 5xx) is retried with the same items; 400 is not', async () => {
  const answers = ['network-error', null, {status: 502, text: ''}, {status: 400, text: 'bad'}];
  const page = await loadedPage({fetch: false, beacon: false,
    answer: () => (answers.length ? answers.shift() : {status: 200, text: '{}'})});
  page.sm.track('u1', 'e1', {});
  await page.advance(250); // status 0
  await page.advance(1000); // pending
  assert.equal(page.requests.length, 2);
  page.requests[1].timeout();
  await page.advance(0);
  await page.advance(2000); // 502
  await page.advance(4000); // 400: given up
  await page.advance(60000);
  assert.equal(page.requests.length, 4);
  for (const req of page.requests) assert.deepEqual(ids(req), ids(page.requests[0]));
  assert.deepEqual(page.warnings, ['salesmachine: the server refused 1 item(s) with 400: bad']);
  assert.deepEqual(page.storage.queues(), []);
});
