'use strict';
// A small fake browser for the library's unit tests: src/salesmachine.js runs in a `vm` context
// whose global is a window with a document (script tags, referrer, title, cookie, events),
// location, navigator (userAgent, sendBeacon), localStorage, crypto, and a clock of its own:
// setTimeout, clearTimeout and Date all follow `page.clock`, which only moves on `advance()`.
// The transports record what the library sends, decoded, and answer as the test says.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const crypto = require('node:crypto');

// SALESMACHINE_JS=path runs the tests against another build, e.g. the shipped minified file.
const SOURCE_PATH = process.env.SALESMACHINE_JS || path.join(__dirname, '..', 'src', 'salesmachine.js');
const SOURCE = fs.readFileSync(SOURCE_PATH, 'utf8');
const SITE = 'https://shop.example.com/pricing?plan=pro';
const LIBRARY_SRC = 'https://sm.example.com/javascripts/salesmachine.min.js';
const AGENT = 'Mozilla/5.0 (FakeBrowser) unit-test';
const START = Date.UTC(2026, 0, 15, 12, 0, 0);

// The snippet of README.md (the unminified one), as a site pastes it.
const SNIPPET = `
var salesmachine = salesmachine || [];
salesmachine.Settings = function(apiToken, options) {
var script = document.createElement('script');
script.type = 'text/javascript';
script.async = true;
script.src = ("https:" === document.location.protocol ? "https:" : "http:") + "//sm.example.com/javascripts/salesmachine.min.js";
var firstScript = document.getElementsByTagName('script')[0];
firstScript.parentNode.insertBefore(script, firstScript);
var methodFactory = function (type) {
return function () {
salesmachine.push([type].concat(Array.prototype.slice.call(arguments, 0)));
};
};
var methods = ['init', 'salesmachine', 'pageview', 'account', 'contact', 'track'];
for (var i = 0; i < methods.length; i++) {
salesmachine[methods[i]] = methodFactory(methods[i]);
}
salesmachine.init(apiToken, options);
};
`;

/** localStorage: shared between pages of one "site" by passing the same object to newPage. */
class FakeStorage {
  constructor() { this.map = new Map(); this.failWrites = false; }
  get length() { return this.map.size; }
  key(i) { return Array.from(this.map.keys())[i] ?? null; }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.map.set(k, String(v));
  }
  removeItem(k) { this.map.delete(k); }
  clear() { this.map.clear(); }
  /** The stored queues, parsed: [{key, token, t, items: [{m, c}]}]. */
  queues() {
    return Array.from(this.map.entries())
      .filter(([k]) => k.startsWith('salesmachine:queue:'))
      .map(([key, v]) => Object.assign({key}, JSON.parse(v)));
  }
  /** The messageIds of every stored item. */
  storedIds() {
    return this.queues().flatMap((q) => q.items.map((e) => e.m.messageId));
  }
}

class FakeEventTarget {
  constructor() { this.listeners = {}; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn);
  }
  dispatchEvent(event) {
    for (const fn of (this.listeners[event.type] || []).slice()) fn.call(this, event);
  }
}

/** A URL of the library's requests, split: {base, path, query: {name: value}}. */
function splitUrl(url) {
  const u = new URL(url);
  return {base: u.origin, path: u.pathname, query: Object.fromEntries(u.searchParams)};
}

function decodeBase64url(text) {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/**
 * A page of the site, before the library has loaded.
 *   options.storage   a FakeStorage (another page's, to model a later page load); null for none
 *   options.fetch     false: no window.fetch (the legacy GET transport is used)
 *   options.beacon    false: no navigator.sendBeacon
 *   options.now       the clock's start (ms)
 *   options.random    what Math.random returns in the page (0.5: backoff without jitter)
 *   options.answer    (request) => {status, text} | 'network-error' | null (stays pending);
 *                     the default answers 200 {"accepted": n}
 */
function newPage(options = {}) {
  const page = {
    clock: options.now ?? START,
    timers: [],
    nextTimer: 1,
    requests: [], // every request sent: {transport, method, url, base, path, query, items, ...}
    warnings: [],
    answer: options.answer || ((req) => ({status: 200, text: JSON.stringify({accepted: req.items.length})})),
    beaconAccepts: true,
    storage: options.storage === undefined ? new FakeStorage() : options.storage,
  };

  // ---- the clock ----
  const setTimeout = (fn, delay) => {
    const id = page.nextTimer++;
    page.timers.push({id, fn, at: page.clock + Math.max(0, Number(delay) || 0), delay: Number(delay) || 0});
    return id;
  };
  const clearTimeout = (id) => { page.timers = page.timers.filter((t) => t.id !== id); };
  class PageDate extends Date {
    constructor(...args) { if (args.length) super(...args); else super(page.clock); }
    static now() { return page.clock; }
  }
  const random = options.random ?? 0.5;
  const PageMath = Object.create(Math);
  PageMath.random = typeof random === 'function' ? random : () => random;

  /** Lets promise callbacks (fetch answers) run. */
  page.settle = () => new Promise((resolve) => setImmediate(resolve));

  /** Moves the clock by ms, firing due timers in order (and settling promises after each). */
  page.advance = async (ms) => {
    const target = page.clock + ms;
    await page.settle();
    for (;;) {
      const due = page.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      page.timers = page.timers.filter((t) => t !== due);
      page.clock = due.at;
      due.fn();
      await page.settle();
    }
    page.clock = target;
    await page.settle();
  };
  /** The delays of the timers now pending, e.g. to read a backoff. */
  page.pendingDelays = () => page.timers.map((t) => t.delay);

  // ---- the transports ----
  function record(req) {
    Object.assign(req, splitUrl(req.url));
    page.requests.push(req);
    return req;
  }
  /** Answers a request with the test's answer function; resolves fetch/XHR accordingly. */
  function answerOf(req) {
    return req.forced !== undefined ? req.forced : page.answer(req);
  }

  function fetch(url, init) {
    const req = record({transport: 'fetch', method: init.method, url, init, body: init.body,
      items: JSON.parse(init.body)});
    return new Promise((resolve, reject) => {
      const settle = (a) => {
        if (a === 'network-error') reject(new TypeError('Failed to fetch'));
        else resolve({status: a.status, text: () => Promise.resolve(a.text ?? '')});
      };
      req.respond = (status, text = '') => settle({status, text});
      req.fail = () => settle('network-error');
      const a = answerOf(req);
      if (a) settle(a);
    });
  }

  class XMLHttpRequest {
    open(method, url, async) { this.method = method; this.url = url; this.async = async; this.readyState = 1; }
    send(body) {
      const q = splitUrl(this.url).query;
      const req = record({transport: 'xhr', method: this.method, url: this.url, body,
        items: JSON.parse(decodeBase64url(q.data)), xhr: this});
      const finish = (status, text) => {
        this.status = status; this.responseText = text; this.readyState = 4;
        if (this.onreadystatechange) this.onreadystatechange();
      };
      req.respond = (status, text = '') => finish(status, text);
      req.fail = () => finish(0, '');
      req.timeout = () => { if (this.ontimeout) this.ontimeout(); };
      const a = answerOf(req);
      // An XHR answers asynchronously, like in a browser.
      if (a) Promise.resolve().then(() => (a === 'network-error' ? finish(0, '') : finish(a.status, a.text ?? '')));
    }
  }

  function sendBeacon(url, body) {
    if (!page.beaconAccepts) return false;
    record({transport: 'beacon', method: 'POST', url, body, items: JSON.parse(body)});
    return true;
  }

  // ---- the document ----
  const document = new FakeEventTarget();
  const head = {
    children: [],
    insertBefore(node, before) {
      const i = this.children.indexOf(before);
      this.children.splice(i < 0 ? this.children.length : i, 0, node);
      node.parentNode = this;
    },
    appendChild(node) { this.insertBefore(node, null); },
  };
  const pageScript = {tagName: 'SCRIPT', src: '', parentNode: head};
  head.children.push(pageScript);
  Object.assign(document, {
    referrer: options.referrer ?? 'https://www.google.com/',
    title: 'Pricing',
    cookie: '',
    visibilityState: 'visible',
    currentScript: null,
    createElement: (tag) => ({tagName: String(tag).toUpperCase(), src: '', parentNode: null}),
    getElementsByTagName: (tag) => head.children.filter((n) => n.tagName === String(tag).toUpperCase()),
    head,
  });
  document.location = new URL(options.url ?? SITE);

  // ---- the window: the context's global ----
  const window = new FakeEventTarget();
  Object.assign(window, {
    document,
    location: document.location,
    navigator: {userAgent: AGENT},
    crypto: {randomUUID: () => crypto.randomUUID()},
    setTimeout,
    clearTimeout,
    Date: PageDate,
    Math: PageMath,
    btoa: (s) => Buffer.from(s, 'latin1').toString('base64'),
    console: {warn: (m) => page.warnings.push(String(m)), log() {}},
  });
  if (options.fetch !== false) window.fetch = fetch;
  window.XMLHttpRequest = XMLHttpRequest;
  if (options.beacon !== false) window.navigator.sendBeacon = sendBeacon;
  if (page.storage) window.localStorage = page.storage;
  vm.createContext(window);
  window.window = vm.runInContext('this', window);
  page.window = window;
  page.document = document;

  /** Runs code in the page (as an inline script would). */
  page.run = (code) => vm.runInContext(code, window);

  /** Pastes the README's snippet and calls Settings(token, options) as the document does. */
  page.pasteSnippet = (token = 'TOKEN', settings = {}) => {
    page.run(SNIPPET);
    page.run(`salesmachine.Settings(${JSON.stringify(token)}, ${JSON.stringify(settings)});`);
  };

  /** The library arrives: runs src/salesmachine.js, as the script tag the snippet inserted. */
  page.loadLibrary = () => {
    let tag = head.children.find((n) => n.src && /salesmachine/.test(n.src));
    if (!tag) {
      tag = document.createElement('script');
      tag.src = LIBRARY_SRC;
      head.appendChild(tag);
    }
    document.currentScript = tag;
    vm.runInContext(SOURCE, window, {filename: SOURCE_PATH});
    document.currentScript = null;
    return window.salesmachine;
  };

  /** Page events: 'hide' (visibilitychange to hidden, then pagehide), 'show', 'online'. */
  page.hide = () => {
    document.visibilityState = 'hidden';
    document.dispatchEvent({type: 'visibilitychange'});
    window.dispatchEvent({type: 'pagehide', persisted: false});
  };
  page.show = () => {
    document.visibilityState = 'visible';
    document.dispatchEvent({type: 'visibilitychange'});
  };
  page.online = () => window.dispatchEvent({type: 'online'});

  /** The items of every request so far, flattened. */
  page.sentItems = () => page.requests.flatMap((r) => r.items);
  return page;
}

/**
 * A page with the library loaded and initialised (no snippet), once init's own immediate send
 * (of what earlier pages left, here nothing) has run: later calls then wait for the 250 ms window.
 */
async function loadedPage(options = {}, token = 'TOKEN', settings = {}) {
  const page = newPage(options);
  const sm = page.loadLibrary();
  sm.init(token, settings);
  page.sm = sm;
  await page.advance(0);
  return page;
}

/** Strips what differs on every run (ids, times) from items, for deepEqual. */
function plain(items) {
  return items.map((item) => {
    const copy = Object.assign({}, item);
    delete copy.messageId; delete copy.created_at; delete copy.sent_at;
    return copy;
  });
}

module.exports = {newPage, loadedPage, plain, FakeStorage, decodeBase64url, SITE, LIBRARY_SRC, AGENT, START};
