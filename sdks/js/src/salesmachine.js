/*
 * salesmachine.js: the browser library of a self-hosted Salesmachine.
 *
 * The snippet a site pastes creates `window.salesmachine` as an array, loads this file
 * asynchronously and records every call made meanwhile as ["method", args...]. This file takes
 * that array over: it replays the recorded calls in order, then answers calls directly.
 *
 * Calls become batch items (contact, account, event, pageview) with a random messageId and the
 * time they were made. Items made in quick succession go out together in one POST to /v1/batch,
 * as a CORS-simple request (text/plain JSON body, token in the query), so no preflight is
 * needed. Until the server acknowledges them, items are kept in localStorage: a failed send is
 * retried with backoff, and what is left when the page goes away is sent again by the next
 * page load of the site (for up to a day). The server deduplicates by messageId, so sending an
 * item twice is harmless, while losing one is not.
 *
 * Written in ES5 on purpose: it runs on every browser a site's visitors have.
 */
(function (window, document) {
  'use strict';

  var VERSION = '1.0.0';
  var SCRIPT_SRC = /\/javascripts\/salesmachine(\.min)?\.js([?#]|$)/;
  var STORAGE_PREFIX = 'salesmachine:queue:';
  var MAX_AGE_MS = 24 * 60 * 60 * 1000; // items older than this are given up
  var FLUSH_DELAY_MS = 250; // calls made within this window go out together
  var MAX_BATCH_ITEMS = 100;
  var MAX_POST_BYTES = 60000; // keepalive and beacon bodies must stay under 64 KiB in all
  var MAX_GET_BYTES = 4500; // JSON per GET: about 6 KB of base64 in the URL
  var MAX_QUEUE = 1000; // items kept at most; the oldest go first
  var RETRY_BASE_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var MAX_FAILURES = 8; // retries in one page; then on the next call, going online or next load
  var SEND_TIMEOUT_MS = 30000;

  var existing = window.salesmachine;
  if (existing && existing._loaded) {
    return; // the library is already running on this page
  }
  // The snippet's array (or a fresh one when the script was included without the snippet).
  var sm = existing && typeof existing.push === 'function' ? existing : [];
  var recorded = typeof sm.length === 'number' ? Array.prototype.slice.call(sm, 0) : [];
  if (recorded.length) {
    sm.length = 0;
  }
  var thisScript = document.currentScript;

  var state = {
    token: null,
    base: null,
    queue: [], // entries {m: item, c: created ms}, oldest first, not yet sent
    inflight: null, // entries of the request under way
    beaconed: [], // entries handed to sendBeacon at page hide: sent, but not confirmed
    failures: 0,
    timer: null,
    listening: false,
    instance: uuid()
  };

  // ---- the calls --------------------------------------------------------------------------

  function init(token, options) {
    options = options || {};
    if (!token) {
      warn('init needs your API token: salesmachine.Settings("YOUR_API_TOKEN", {})');
      return;
    }
    state.token = String(token);
    state.base = apiBase(options.host);
    listen();
    adoptStored();
    schedule(0);
  }

  function contact(uid, params) {
    enqueue({method: 'contact', contact_uid: uid, params: params});
  }

  function account(uid, params) {
    enqueue({method: 'account', account_uid: uid, params: params});
  }

  function track(uid, event, params) {
    enqueue({method: 'event', contact_uid: uid, event_uid: event, params: params});
  }

  function pageview(uid, params) {
    var filled = params == null ? {} : params;
    if (typeof filled === 'object' && !isArray(filled)) {
      filled = copyObject(filled);
      if (filled.visit_url == null) {
        filled.visit_url = window.location.href;
      }
      if (filled.visit_agent == null && window.navigator.userAgent) {
        filled.visit_agent = window.navigator.userAgent;
      }
      if (filled.referrer == null && document.referrer) {
        filled.referrer = document.referrer;
      }
    }
    enqueue({method: 'pageview', contact_uid: uid, params: filled});
  }

  var methods = {
    init: init,
    contact: contact,
    account: account,
    track: track,
    pageview: pageview,
    salesmachine: call
  };

  /** The generic form: salesmachine.salesmachine("track", uid, event, params). */
  function call(name) {
    var method = methods[name];
    if (!method || method === call) {
      warn('unknown method ' + name);
      return;
    }
    method.apply(null, Array.prototype.slice.call(arguments, 1));
  }

  /** One recorded call, ["method", args...], as the snippet pushes them. */
  function dispatch(args) {
    if (!args || typeof args.length !== 'number') {
      return;
    }
    var method = methods[args[0]];
    if (!method) {
      warn('unknown method ' + args[0]);
      return;
    }
    try {
      method.apply(null, Array.prototype.slice.call(args, 1));
    } catch (e) {
      warn('call ' + args[0] + ' failed: ' + e);
    }
  }

  // ---- the queue --------------------------------------------------------------------------

  function enqueue(item) {
    var now = new Date();
    item.messageId = uuid();
    item.created_at = now.toISOString();
    try {
      // A copy: later changes to the caller's objects do not change what is sent.
      item = JSON.parse(JSON.stringify(item));
    } catch (e) {
      warn('cannot send ' + item.method + ': its params are not JSON (' + e + ')');
      return;
    }
    state.queue.push({m: item, c: now.getTime()});
    if (state.queue.length > MAX_QUEUE) {
      state.queue.splice(0, state.queue.length - MAX_QUEUE);
    }
    persist();
    schedule(FLUSH_DELAY_MS);
  }

  function schedule(delay) {
    if (state.timer === null) {
      state.timer = setTimeout(flush, delay);
    }
  }

  function flush() {
    if (state.timer !== null) {
      clearTimeout(state.timer);
      state.timer = null;
    }
    if (!state.token || state.inflight || !state.queue.length) {
      return;
    }
    var useFetch = typeof window.fetch === 'function';
    var batch = take(useFetch ? MAX_POST_BYTES : MAX_GET_BYTES);
    state.inflight = batch;
    (useFetch ? sendFetch : sendGet)(body(batch), function (status, text) {
      state.inflight = null;
      if (retryable(status)) {
        state.queue = batch.concat(state.queue);
        state.failures += 1;
        persist();
        if (state.failures < MAX_FAILURES) {
          // The backoff replaces a send that a call made during the request scheduled sooner.
          if (state.timer !== null) {
            clearTimeout(state.timer);
            state.timer = null;
          }
          schedule(backoff(state.failures));
        }
        return;
      }
      state.failures = 0;
      if (status >= 300) {
        warn('the server refused ' + batch.length + ' item(s) with ' + status + ': ' + text);
      } else if (text && text.indexOf('"rejected"') >= 0) {
        warn('the server refused some items: ' + text);
      }
      persist();
      if (state.queue.length) {
        schedule(0);
      }
    });
  }

  /** The oldest entries that fit in one request. */
  function take(maxBytes) {
    var taken = [];
    var size = 2;
    while (state.queue.length && taken.length < MAX_BATCH_ITEMS) {
      // sent_at is added when sending: about 40 bytes more.
      var bytes = utf8Length(JSON.stringify(state.queue[0].m)) + 41;
      if (taken.length && size + bytes > maxBytes) {
        break;
      }
      taken.push(state.queue.shift());
      size += bytes;
    }
    return taken;
  }

  /** The batch body: the items, each stamped with the time it is sent (clock-skew correction). */
  function body(entries) {
    var sentAt = new Date().toISOString();
    var items = [];
    for (var i = 0; i < entries.length; i++) {
      entries[i].m.sent_at = sentAt;
      items.push(entries[i].m);
    }
    return JSON.stringify(items);
  }

  function retryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  function backoff(failures) {
    var delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * Math.pow(2, failures - 1));
    return Math.round(delay * (0.75 + Math.random() * 0.5));
  }

  // ---- transports -------------------------------------------------------------------------

  function batchUrl() {
    return state.base + '/v1/batch?api_token=' + encodeURIComponent(state.token);
  }

  /** POST with fetch: text/plain is CORS-simple, and keepalive outlives the page. */
  function sendFetch(payload, done) {
    var finish = once(done);
    var timer = setTimeout(function () { finish(0, ''); }, SEND_TIMEOUT_MS);
    var answered = function (status, text) {
      clearTimeout(timer);
      finish(status, text);
    };
    try {
      window.fetch(batchUrl(), {
        method: 'POST',
        body: payload,
        headers: {'Content-Type': 'text/plain;charset=UTF-8'},
        keepalive: utf8Length(payload) < MAX_POST_BYTES,
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store'
      }).then(function (response) {
        return response.text().then(function (text) {
          answered(response.status, text);
        }, function () {
          answered(response.status, '');
        });
      }, function () {
        answered(0, '');
      });
    } catch (e) {
      answered(0, '');
    }
  }

  /** The legacy transport, for browsers without fetch: GET with the batch as base64 JSON. */
  function sendGet(payload, done) {
    var finish = once(done);
    var url = batchUrl() + '&data=' + base64url(payload) + '&encode=base64&_method=post';
    try {
      var xhr = new window.XMLHttpRequest();
      xhr.open('GET', url, true);
      xhr.timeout = SEND_TIMEOUT_MS;
      xhr.onreadystatechange = function () {
        if (xhr.readyState === 4) {
          finish(xhr.status, xhr.responseText || '');
        }
      };
      xhr.ontimeout = function () { finish(0, ''); };
      xhr.send();
    } catch (e) {
      finish(0, '');
    }
  }

  /** At page hide: what is still queued goes out now, with sendBeacon where there is one. */
  function onHide() {
    if (!state.token || !state.queue.length) {
      persist();
      return;
    }
    if (typeof window.navigator.sendBeacon !== 'function') {
      flush(); // fetch keepalive, or a GET the page may not outlive (the next load resends)
      persist();
      return;
    }
    while (state.queue.length) {
      var batch = take(MAX_POST_BYTES);
      var queued = false;
      try {
        queued = window.navigator.sendBeacon(batchUrl(), body(batch));
      } catch (e) {
        queued = false;
      }
      if (!queued) {
        state.queue = batch.concat(state.queue);
        break;
      }
      // A beacon says nothing of its answer: keep the items stored until a send is confirmed.
      state.beaconed = state.beaconed.concat(batch);
    }
    persist();
  }

  /** Back from hidden (or from the back-forward cache): confirm what was only beaconed. */
  function onShow() {
    if (state.beaconed.length) {
      state.queue = state.beaconed.concat(state.queue);
      state.beaconed = [];
      schedule(FLUSH_DELAY_MS);
    }
  }

  function listen() {
    if (state.listening || !window.addEventListener) {
      return;
    }
    state.listening = true;
    window.addEventListener('pagehide', onHide);
    window.addEventListener('pageshow', function (event) {
      if (event.persisted) {
        onShow();
      }
    });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') {
        onHide();
      } else {
        onShow();
      }
    });
    window.addEventListener('online', function () {
      state.failures = 0;
      flush();
    });
  }

  // ---- storage ----------------------------------------------------------------------------
  // Each page keeps its unconfirmed items under a key of its own, so that pages open in
  // several tabs never overwrite each other's; a page load takes over the others' items.

  function storage() {
    try {
      var store = window.localStorage;
      return store && typeof store.setItem === 'function' ? store : null;
    } catch (e) {
      return null; // storage disabled (privacy settings, sandboxed frames)
    }
  }

  function storageKey() {
    return STORAGE_PREFIX + state.instance;
  }

  function persist() {
    var store = storage();
    if (!store) {
      return;
    }
    var entries = state.beaconed.concat(state.inflight || [], state.queue);
    try {
      if (entries.length) {
        store.setItem(storageKey(), JSON.stringify({token: state.token, t: now(), items: entries}));
      } else {
        store.removeItem(storageKey());
      }
    } catch (e) {
      // Over quota: the items stay in memory and are still sent from this page.
    }
  }

  /** Take over the items that earlier pages of this site left unconfirmed for this token. */
  function adoptStored() {
    var store = storage();
    if (!store) {
      return;
    }
    var time = now();
    var seen = {};
    var adopted = [];
    var keys = [];
    var i;
    try {
      for (i = 0; i < store.length; i++) {
        var key = store.key(i);
        if (key && key.indexOf(STORAGE_PREFIX) === 0 && key !== storageKey()) {
          keys.push(key);
        }
      }
      for (i = 0; i < state.queue.length; i++) {
        seen[state.queue[i].m.messageId] = true;
      }
      for (i = 0; i < keys.length; i++) {
        var record = parse(store.getItem(keys[i]));
        if (!record || !isArray(record.items) || !(time - record.t < MAX_AGE_MS)) {
          store.removeItem(keys[i]);
          continue;
        }
        if (record.token !== state.token) {
          continue; // another project's items: left for a page that uses it
        }
        store.removeItem(keys[i]);
        for (var j = 0; j < record.items.length; j++) {
          var entry = record.items[j];
          if (entry && entry.m && entry.m.messageId && time - entry.c < MAX_AGE_MS && !seen[entry.m.messageId]) {
            seen[entry.m.messageId] = true;
            adopted.push(entry);
          }
        }
      }
    } catch (e) {
      // Storage that fails midway: send what was read.
    }
    if (adopted.length) {
      adopted.sort(function (a, b) { return a.c - b.c; });
      state.queue = adopted.concat(state.queue);
      persist();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  /** The API's base URL: options.host, else the origin this script was loaded from. */
  function apiBase(host) {
    var origin = scriptOrigin();
    var base = host ? String(host) : origin || window.location.protocol + '//' + window.location.host;
    if (!/^[a-z][a-z0-9+.\-]*:\/\//i.test(base)) {
      var protocol = origin ? origin.split('//')[0] : window.location.protocol === 'http:' ? 'http:' : 'https:';
      base = protocol + (base.slice(0, 2) === '//' ? '' : '//') + base;
    }
    return base.replace(/\/+$/, '');
  }

  function scriptOrigin() {
    var script = thisScript && SCRIPT_SRC.test(thisScript.src) ? thisScript : null;
    if (!script) {
      var scripts = document.getElementsByTagName('script');
      for (var i = scripts.length - 1; i >= 0 && !script; i--) {
        if (SCRIPT_SRC.test(scripts[i].src)) {
          script = scripts[i];
        }
      }
    }
    var match = script && /^[a-z][a-z0-9+.\-]*:\/\/[^\/?#]+/i.exec(script.src);
    return match ? match[0] : null;
  }

  /** A random (version 4) uuid. */
  function uuid() {
    var crypto = window.crypto;
    if (crypto && typeof crypto.randomUUID === 'function') {
      try {
        return crypto.randomUUID();
      } catch (e) {
        // not a secure context in some browsers: fall through
      }
    }
    var bytes = [];
    var i;
    if (crypto && typeof crypto.getRandomValues === 'function' && window.Uint8Array) {
      bytes = crypto.getRandomValues(new window.Uint8Array(16));
    } else {
      for (i = 0; i < 16; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    var hex = '';
    for (i = 0; i < 16; i++) {
      hex += (bytes[i] + 256).toString(16).slice(1) + (i === 3 || i === 5 || i === 7 || i === 9 ? '-' : '');
    }
    return hex;
  }

  /** URL-safe base64 of the UTF-8 bytes of a string, without padding (the server reads it). */
  function base64url(text) {
    return window.btoa(unescape(encodeURIComponent(text)))
      .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function utf8Length(text) {
    return unescape(encodeURIComponent(text)).length;
  }

  function copyObject(object) {
    var copy = {};
    for (var key in object) {
      if (Object.prototype.hasOwnProperty.call(object, key)) {
        copy[key] = object[key];
      }
    }
    return copy;
  }

  function isArray(value) {
    return Object.prototype.toString.call(value) === '[object Array]';
  }

  function parse(text) {
    try {
      return text ? JSON.parse(text) : null;
    } catch (e) {
      return null;
    }
  }

  function once(fn) {
    var called = false;
    return function () {
      if (!called) {
        called = true;
        fn.apply(null, arguments);
      }
    };
  }

  function now() {
    return new Date().getTime();
  }

  function warn(message) {
    if (window.console && window.console.warn) {
      window.console.warn('salesmachine: ' + message);
    }
  }

  // ---- take over the snippet's queue ------------------------------------------------------

  for (var name in methods) {
    if (Object.prototype.hasOwnProperty.call(methods, name)) {
      sm[name] = methods[name];
    }
  }
  // The snippet's stubs push ["method", args...]: from now on a push is a call.
  sm.push = function () {
    for (var i = 0; i < arguments.length; i++) {
      dispatch(arguments[i]);
    }
    return 0;
  };
  sm.flush = flush;
  sm.VERSION = VERSION;
  sm._loaded = true;
  window.salesmachine = sm;

  for (var k = 0; k < recorded.length; k++) {
    dispatch(recorded[k]);
  }
})(window, document);
