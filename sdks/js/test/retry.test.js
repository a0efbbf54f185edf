'use strict';
// Retry: failed sends are retried with backoff and the same messageIds; final refusals are not;
// items wait in localStorage, across page loads, until the server acknowledges them.
const test = require('node:test');
const assert = require('node:assert/strict');
const {newPage, loadedPage, FakeStorage, START} = require('./fake-browser');

const ids = (req) => req.items.map((i) => i.messageId);

/** An answer function that plays the given answers in turn, then 200. */
function script(...answers) {
  return (req) => {
    const a = answers.length ? answers.shift() : {status: 200, text: '{}'};
    return typeof a === 'number' ? {status: a, text: ''} : a;
  };
}

for (const [label, failure] of [['a network error', 'network-error'], ['500', 500], ['503', 503],
  ['408', 408], ['429', 429]]) {
  test(`${label} is retried after 1 s with the same items and messageIds`, async () => {
    const page = await loadedPage({answer: script(failure)});
    page.sm.contact('u1', {name: 'A'});
    page.sm.track('u1', 'e1', {});
    await page.advance(250);
    assert.equal(page.requests.length, 1);
    const stored = page.storage.storedIds();
    assert.deepEqual(stored, ids(page.requests[0]), 'kept in localStorage after the failure');
    assert.deepEqual(page.pendingDelays(), [1000]);
    await page.advance(999);
    assert.equal(page.requests.length, 1);
    await page.advance(1);
    assert.equal(page.requests.length, 2);
    const [first, retry] = page.requests;
    assert.equal(retry.url, first.url);
    assert.equal(retry.method, 'POST');
    assert.deepEqual(ids(retry), ids(first));
    assert.deepEqual(retry.items.map((i) => i.created_at), first.items.map((i) => i.created_at));
    assert.equal(first.items[0].sent_at, new Date(START + 250).toISOString());
    assert.equal(retry.items[0].sent_at, new Date(START + 1250).toISOString(), 'sent_at is the resend time');
    assert.deepEqual(retry.items.map((i) => i.method), ['contact', 'event']);
    assert.deepEqual(page.storage.queues(), [], 'acknowledged: gone from localStorage');
    await page.advance(120000);
    assert.equal(page.requests.length, 2, 'nothing sent again');
    assert.deepEqual(page.warnings, []);
  });
}

for (const status of [400, 401, 403, 413]) {
  test(`${status} is final: not retried, reported, removed from storage`, async () => {
    const page = await loadedPage({answer: script({status, text: '{"error":"no"}'})});
    page.sm.track('u1', 'e1', {});
    await page.advance(250);
    await page.advance(120000);
    assert.equal(page.requests.length, 1);
    assert.deepEqual(page.warnings, [`salesmachine: the server refused 1 item(s) with ${status}: {"error":"no"}`]);
    assert.deepEqual(page.storage.queues(), []);
    page.sm.track('u1', 'e2', {});
    await page.advance(250);
    assert.deepEqual(page.requests[1].items.map((i) => i.event_uid), ['e2'], 'the next call is sent alone');
  });
}

test('the backoff doubles from 1 s to 30 s, eight attempts, then waits for a call or online', async () => {
  const page = await loadedPage({answer: () => ({status: 503, text: ''})});
  page.sm.track('u1', 'e1', {});
  await page.advance(250);
  const delays = [];
  for (let attempt = 1; attempt < 8; attempt++) {
    delays.push(...page.pendingDelays());
    await page.advance(page.pendingDelays()[0]);
    assert.equal(page.requests.length, attempt + 1);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.deepEqual(page.pendingDelays(), [], 'eight attempts: no more timers');
  await page.advance(3600 * 1000);
  assert.equal(page.requests.length, 8);
  const first = ids(page.requests[0]);
  for (const req of page.requests) assert.deepEqual(ids(req), first);

  // A new call sends everything again (one attempt), in order, the old items first.
  page.sm.track('u1', 'e2', {});
  await page.advance(250);
  assert.equal(page.requests.length, 9);
  assert.deepEqual(page.requests[8].items.map((i) => i.event_uid), ['e1', 'e2']);
  assert.deepEqual(page.pendingDelays(), []);

  // Coming back online resets the count: sends at once and retries with backoff again.
  page.answer = script(503);
  page.online();
  await page.advance(0);
  assert.equal(page.requests.length, 10);
  assert.deepEqual(page.pendingDelays(), [1000]);
  await page.advance(1000);
  assert.equal(page.requests.length, 11);
  assert.deepEqual(page.requests[10].items.map((i) => i.event_uid), ['e1', 'e2']);
  assert.deepEqual(page.storage.queues(), []);
});

test('the backoff has ±25% jitter', async () => {
  for (const [random, delay] of [[0, 750], [0.999999, 1250]]) {
    const page = await loadedPage({random, answer: script(500)});
    page.sm.track('u1', 'e1', {});
    await page.advance(250);
    assert.deepEqual(page.pendingDelays(), [delay]);
  }
});

test('calls made during the backoff join the retry; nothing is lost or duplicated', async () => {
  const page = await loadedPage({answer: script('network-error', 500, 'network-error')});
  page.sm.track('u1', 'a', {});
  page.sm.track('u1', 'b', {});
  await page.advance(250); // fails
  page.sm.track('u1', 'c', {});
  await page.advance(1000); // fails with a, b, c
  page.sm.track('u1', 'd', {});
  await page.advance(2000); // fails
  page.sm.track('u1', 'e', {});
  await page.advance(4000); // succeeds
  await page.advance(60000);
  assert.deepEqual(page.requests.map((r) => r.items.map((i) => i.event_uid)),
    [['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e']]);
  const last = page.requests[3];
  for (const req of page.requests) {
    assert.deepEqual(ids(req), ids(last).slice(0, req.items.length), 'same ids, same order');
  }
  assert.equal(new Set(ids(last)).size, 5);
  assert.deepEqual(page.storage.queues(), []);
});

test('a failed batch goes back ahead of the calls made while it was in flight', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  page.sm.track('u1', 'a', {});
  page.sm.track('u1', 'b', {});
  await page.advance(250);
  page.sm.track('u1', 'c', {});
  assert.deepEqual(page.storage.queues()[0].items.map((e) => e.m.event_uid), ['a', 'b', 'c']);
  pending.shift().respond(503, '');
  await page.advance(0);
  assert.deepEqual(page.storage.queues()[0].items.map((e) => e.m.event_uid), ['a', 'b', 'c']);
  await page.advance(1000);
  assert.equal(page.requests.length, 2);
  assert.deepEqual(page.requests[1].items.map((i) => i.event_uid), ['a', 'b', 'c']);
  assert.deepEqual(ids(page.requests[1]).slice(0, 2), ids(page.requests[0]));
});

test('a call made during a request that then fails does not cut the backoff short', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  page.sm.track('u1', 'a', {});
  await page.advance(250);
  page.sm.track('u1', 'b', {}); // would go out 250 ms later
  await page.advance(100);
  pending.shift().respond(503, '');
  await page.advance(0);
  assert.deepEqual(page.pendingDelays(), [1000], 'the backoff, not the call\'s 250 ms');
  await page.advance(999);
  assert.equal(page.requests.length, 1);
  await page.advance(1);
  assert.equal(page.requests.length, 2);
  assert.deepEqual(page.requests[1].items.map((i) => i.event_uid), ['a', 'b']);
});

test('a request unanswered for 30 s is retried; its late answer changes nothing', async () => {
  const pending = [];
  const page = await loadedPage({answer: (req) => { pending.push(req); return null; }});
  page.sm.track('u1', 'e1', {});
  await page.advance(250);
  assert.deepEqual(page.storage.storedIds(), ids(page.requests[0]), 'in flight: still stored');
  await page.advance(30000);
  assert.equal(page.requests.length, 1);
  assert.deepEqual(page.pendingDelays(), [1000]);
  await page.advance(1000);
  assert.equal(page.requests.length, 2);
  assert.deepEqual(ids(page.requests[1]), ids(page.requests[0]));
  pending[0].respond(200, '{}'); // the first, late
  await page.advance(0);
  assert.deepEqual(page.storage.storedIds(), ids(page.requests[1]), 'the retry is still awaited');
  pending[1].respond(200, '{}');
  await page.advance(60000);
  assert.equal(page.requests.length, 2);
  assert.deepEqual(page.storage.queues(), []);
});

test('the next page load sends what an earlier page left, first, with the same messageIds', async () => {
  const storage = new FakeStorage();
  const page1 = await loadedPage({storage, answer: () => 'network-error'});
  page1.sm.contact('u1', {name: 'A'});
  page1.sm.track('u1', 'e1', {});
  await page1.advance(250);
  page1.hide(); // sendBeacon exists: the items are beaconed too, and stay stored
  const left = page1.storage.storedIds();
  assert.equal(left.length, 2);

  const page2 = newPage({storage, now: START + 3600 * 1000});
  page2.pasteSnippet('TOKEN', {});
  page2.run('salesmachine.track("u1", "e2", {})');
  page2.loadLibrary();
  await page2.advance(0);
  assert.equal(page2.requests.length, 1);
  const req = page2.requests[0];
  assert.deepEqual(req.items.map((i) => i.event_uid || i.method), ['contact', 'e1', 'e2']);
  assert.deepEqual(ids(req).slice(0, 2), left);
  assert.equal(req.items[0].created_at, new Date(START).toISOString(), 'created_at is the first page\'s');
  assert.deepEqual(storage.queues(), [], 'page 1\'s key is taken over and cleared');
});

test('a page load leaves another project\'s items alone', async () => {
  const storage = new FakeStorage();
  const other = await loadedPage({storage, answer: () => 'network-error'}, 'OTHER');
  other.sm.track('u1', 'other-project', {});
  await other.advance(250);

  const page = newPage({storage, now: START + 3600 * 1000});
  page.loadLibrary().init('TOKEN', {});
  await page.advance(0);
  assert.equal(page.requests.length, 0);
  assert.deepEqual(storage.queues().map((q) => q.token), ['OTHER']);
});

test('a page load gives up items older than a day', async () => {
  const storage = new FakeStorage();
  const old = await loadedPage({storage, answer: () => 'network-error'});
  old.sm.track('u1', 'old', {});
  await old.advance(250);
  assert.equal(storage.queues().length, 1);

  const page = newPage({storage, now: START + 24 * 3600 * 1000 + 1000});
  page.loadLibrary().init('TOKEN', {});
  await page.advance(0);
  assert.equal(page.requests.length, 0);
  assert.deepEqual(storage.queues(), []);
});

test('without localStorage (or over quota) the library still sends and retries', async () => {
  for (const options of [{storage: null}, {storage: Object.assign(new FakeStorage(), {failWrites: true})}]) {
    const page = await loadedPage(Object.assign({answer: script(500)}, options));
    page.sm.track('u1', 'e1', {});
    await page.advance(250);
    await page.advance(1000);
    assert.equal(page.requests.length, 2);
    assert.deepEqual(ids(page.requests[1]), ids(page.requests[0]));
  }
});
