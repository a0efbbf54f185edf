'use strict';
// Queue replay: what the snippet records before the library has loaded is replayed, in order.
const test = require('node:test');
const assert = require('node:assert/strict');
const {newPage, plain, SITE, AGENT, START} = require('./fake-browser');

test('calls recorded by the snippet are replayed in order, init first, in one batch', async () => {
  const page = newPage();
  page.pasteSnippet('TOKEN-1', {});
  page.run(`
    salesmachine.contact("u1", {email: "a@example.com", account_uid: "acc1"});
    salesmachine.account("acc1", {name: "Tesla"});
    salesmachine.track("u1", "registered", {plan: "pro"});
    salesmachine.pageview("u1", {account_uid: "acc1"});
    salesmachine.salesmachine("track", "u1", "invited", {count: 3});
  `);
  // Before the library: the stub array holds exactly the calls, init first.
  assert.deepEqual(JSON.parse(page.run('JSON.stringify(salesmachine)')).map((c) => c[0]),
    ['init', 'contact', 'account', 'track', 'pageview', 'salesmachine']);
  assert.equal(page.requests.length, 0);

  const sm = page.loadLibrary();
  assert.equal(sm._loaded, true);
  assert.equal(sm.length, 0, 'the recorded calls are taken off the array');
  // init schedules a send at once; the calls replayed with it in the same turn join it.
  await page.advance(0);

  assert.equal(page.requests.length, 1);
  const [req] = page.requests;
  assert.equal(req.transport, 'fetch');
  assert.equal(req.method, 'POST');
  assert.equal(req.url, 'https://sm.example.com/v1/batch?api_token=TOKEN-1');
  assert.equal(req.init.headers['Content-Type'], 'text/plain;charset=UTF-8');
  assert.equal(req.init.keepalive, true);
  assert.equal(req.init.credentials, 'omit');
  assert.deepEqual(plain(req.items), [
    {method: 'contact', contact_uid: 'u1', params: {email: 'a@example.com', account_uid: 'acc1'}},
    {method: 'account', account_uid: 'acc1', params: {name: 'Tesla'}},
    {method: 'event', contact_uid: 'u1', event_uid: 'registered', params: {plan: 'pro'}},
    {method: 'pageview', contact_uid: 'u1',
      params: {account_uid: 'acc1', visit_url: SITE, visit_agent: AGENT, referrer: 'https://www.google.com/'}},
    {method: 'event', contact_uid: 'u1', event_uid: 'invited', params: {count: 3}},
  ]);
  const ids = req.items.map((i) => i.messageId);
  assert.equal(new Set(ids).size, 5, 'every item has its own messageId');
  for (const item of req.items) {
    assert.match(item.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(item.created_at, new Date(START).toISOString());
    assert.equal(item.sent_at, new Date(START).toISOString());
  }
});

test('after loading, the stubs and push are direct calls; nothing is sent twice', async () => {
  const page = newPage();
  page.pasteSnippet('T', {});
  page.run('salesmachine.track("u1", "before", {})');
  page.loadLibrary();
  page.run('salesmachine.track("u1", "after", {}); salesmachine.push(["track", "u1", "pushed", {}]);');
  await page.advance(250);
  assert.equal(page.requests.length, 1);
  assert.deepEqual(page.requests[0].items.map((i) => i.event_uid), ['before', 'after', 'pushed']);
  await page.advance(60000);
  assert.equal(page.requests.length, 1);
  assert.equal(page.storage.queues().length, 0, 'acknowledged items leave localStorage');
});

test('calls recorded before init (library without the snippet) wait for init', async () => {
  const page = newPage();
  page.run('var salesmachine = [["contact", "u1", {name: "A"}]];');
  const sm = page.loadLibrary();
  sm.track('u1', 'e1', {});
  await page.advance(5000);
  assert.equal(page.requests.length, 0, 'no token: nothing sent');
  sm.init('LATE', {host: 'api.example.org:8080'});
  await page.advance(0);
  assert.equal(page.requests.length, 1);
  assert.equal(page.requests[0].url, 'https://api.example.org:8080/v1/batch?api_token=LATE');
  assert.deepEqual(page.requests[0].items.map((i) => i.method), ['contact', 'event']);
});

test('an unknown recorded method is skipped with a warning; the others still replay', async () => {
  const page = newPage();
  page.run('var salesmachine = [["init", "T"], ["nope", 1], ["track", "u1", "e", {}]];');
  page.loadLibrary();
  await page.advance(250);
  assert.deepEqual(page.warnings, ['salesmachine: unknown method nope']);
  assert.deepEqual(plain(page.sentItems()), [{method: 'event', contact_uid: 'u1', event_uid: 'e', params: {}}]);
});

test('loading the library twice keeps the first one running', async () => {
  const page = newPage();
  page.pasteSnippet('T', {});
  page.run('salesmachine.track("u1", "once", {})');
  const first = page.loadLibrary();
  const second = page.loadLibrary();
  assert.equal(first, second);
  await page.advance(250);
  assert.equal(page.sentItems().length, 1);
});

test('the host: options.host, else the origin of the library script tag', async () => {
  const cases = [
    [{}, 'https://sm.example.com'],
    [{host: 'https://other.example.com/'}, 'https://other.example.com'],
    [{host: '//sm.local:8080'}, 'https://sm.local:8080'],
    [{host: 'sm.local'}, 'https://sm.local'],
  ];
  for (const [settings, base] of cases) {
    const page = newPage();
    page.pasteSnippet('T', settings);
    page.run('salesmachine.contact("u", {})');
    page.loadLibrary();
    await page.advance(250);
    assert.equal(page.requests[0].base, base, JSON.stringify(settings));
  }
});

test('params are copied at the call; later changes to them are not sent', async () => {
  const page = newPage();
  page.pasteSnippet('T', {});
  const sm = page.loadLibrary();
  page.run('var p = {plan: "free"}; salesmachine.track("u1", "e", p); p.plan = "pro";');
  sm.pageview('u1', {visit_url: 'https://x.example/given', referrer: ''});
  await page.advance(250);
  assert.deepEqual(page.requests[0].items[0].params, {plan: 'free'});
  assert.deepEqual(page.requests[0].items[1].params,
    {visit_url: 'https://x.example/given', referrer: '', visit_agent: AGENT}, 'given values are kept');
});
