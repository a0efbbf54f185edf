/* The dashboard's little script: draws the charts from the JSON each page embeds, copies the
 * snippet, and keeps the live view up to date. Everything from the server is inserted as text
 * (textContent), never as HTML. */
(function () {
  "use strict";

  var COLOURS = {
    new: "#2f9e44", expansion: "#66a80f", reactivation: "#1c7ed6",
    contraction: "#f08c00", churn: "#e03131", mrr: "#343a8f"
  };
  var LABELS = {
    new: "New", expansion: "Expansion", reactivation: "Reactivation",
    contraction: "Contraction", churn: "Churn"
  };

  // Amounts in the project's currency (base.html's body data-currency), as the pages write
  // them (web/formatting.py): "$1,250", "€80.50".
  function money(value) {
    var currency = document.body.getAttribute("data-currency") || "USD";
    var amount = Number(value);
    try {
      return amount.toLocaleString("en", {
        style: "currency", currency: currency, currencyDisplay: "symbol",
        minimumFractionDigits: Number.isInteger(amount) ? 0 : undefined
      });
    } catch (e) {
      return currency + " " + amount.toLocaleString("en", { maximumFractionDigits: 2 });
    }
  }

  function movementsChart(canvas, data) {
    var datasets = Object.keys(LABELS).map(function (kind) {
      return {
        type: "bar", label: LABELS[kind], data: data.movements[kind], backgroundColor: COLOURS[kind],
        stack: "movements", yAxisID: "y", order: 2
      };
    });
    datasets.push({
      type: "line", label: "MRR", data: data.mrr, borderColor: COLOURS.mrr, backgroundColor: COLOURS.mrr,
      yAxisID: "mrr", order: 1
    });
    return new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: "movements" }, ticks: { callback: money } },
          mrr: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                 title: { display: true, text: "MRR" }, ticks: { callback: money } }
        },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + money(c.raw); } } } }
      }
    });
  }

  function mrrChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: [{
        label: "MRR", data: data.mrr, borderColor: COLOURS.mrr, backgroundColor: "rgba(52,58,143,0.12)",
        fill: true, stepped: true
      }] },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, ticks: { callback: money } } },
        plugins: { legend: { display: false } }
      }
    });
  }

  var BANDS = { good: "#2f9e44", average: "#e8a200", bad: "#e03131" };
  var NO_BAND = "#ced4da";  // churned, or not started

  // Home: accounts per health band at the end of each of the last 12 weeks, stacked.
  function bandsChart(canvas, data) {
    var datasets = ["bad", "average", "good"].map(function (band) {
      return { label: band, data: data[band], backgroundColor: BANDS[band], stack: "bands" };
    });
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }

  // Draws a dashed vertical line, labelled, at each index of data.marks: where the rule changed.
  var markLines = {
    id: "markLines",
    afterDatasetsDraw: function (chart) {
      var marks = (chart.options.plugins.markLines || {}).marks || [];
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      marks.forEach(function (index) {
        var at = x.getPixelForValue(index) - x.width / chart.data.labels.length / 2;
        ctx.save();
        ctx.strokeStyle = "#343a8f";
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(at, area.top);
        ctx.lineTo(at, area.bottom);
        ctx.stroke();
        ctx.fillStyle = "#343a8f";
        ctx.font = "11px sans-serif";
        // Beside the line, on the side with room (a change today is at the right edge).
        var room = area.right - at > 80;
        ctx.textAlign = room ? "left" : "right";
        ctx.fillText("rule changed", room ? at + 3 : at - 3, area.top + 10);
        ctx.restore();
      });
    }
  };

  // A profile: its band each day of the last 90 days, a bar per day (good high, bad low,
  // none grey and flat), and the days the health rule changed.
  function trendChart(canvas, data) {
    var LEVEL = { good: 3, average: 2, bad: 1 };
    var values = data.bands.map(function (band) { return band ? LEVEL[band] : 0.3; });
    var colours = data.bands.map(function (band) { return band ? BANDS[band] : NO_BAND; });
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: "health", data: values, backgroundColor: colours,
        barPercentage: 1, categoryPercentage: 1 }] },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: {
          x: { ticks: { maxTicksLimit: 7, autoSkip: true } },
          y: { min: 0, max: 3, ticks: { stepSize: 1, callback: function (v) {
            return { 1: "bad", 2: "average", 3: "good" }[v] || ""; } } }
        },
        plugins: {
          legend: { display: false },
          markLines: { marks: data.rule_changes },
          tooltip: { callbacks: { label: function (c) {
            var i = c.dataIndex;
            return (data.bands[i] || data.statuses[i] || "no state") + (data.reasons[i] ? ": " + data.reasons[i] : "");
          } } }
        }
      },
      plugins: [markLines]
    });
  }

  function drawCharts() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    if (!canvases.length) { return; }
    if (!window.Chart) { document.body.setAttribute("data-charts", "missing"); return; }
    var makers = { movements: movementsChart, mrr: mrrChart, bands: bandsChart, trend: trendChart };
    Array.prototype.forEach.call(canvases, function (canvas) {
      var data = JSON.parse(document.getElementById(canvas.getAttribute("data-source")).textContent);
      makers[canvas.getAttribute("data-chart")](canvas, data);
      canvas.setAttribute("data-drawn", "true");
    });
    document.body.setAttribute("data-charts", "drawn");
  }

  function copyButtons() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        source.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(source.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  // --- live view ------------------------------------------------------------------------------

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) {
      var inner = document.createElement(className === "raw" ? "code" : "span");
      inner.className = className;
      inner.textContent = text;
      td.appendChild(inner);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  // Children in order: strings as text, nodes as they are.
  function append(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return parent;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function link(td, href, text) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
  }

  // A uid as one segment of a path (the template filter path_part): "." and ".." spelled
  // %2E, or the browser would resolve them as directories.
  function pathPart(uid) {
    var part = encodeURIComponent(uid);
    return part === "." || part === ".." ? part.replace(/\./g, "%2E") : part;
  }

  function newestId(tbody) {
    var first = tbody.querySelector("tr[data-id]");
    return first ? first.getAttribute("data-id") : "0";
  }

  function startLive(status) {
    var feed = status.getAttribute("data-feed");
    var poll = Number(status.getAttribute("data-poll")) || 2000;
    var base = feed.replace(/\/live\/feed$/, "");
    var events = document.getElementById("event-rows");
    var rejected = document.getElementById("rejected-rows");
    // The project's time zone, as the rows the server rendered use: "2026-11-26 21:07".
    var clock = new Intl.DateTimeFormat("sv-SE", {
      timeZone: status.getAttribute("data-tz") || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit"
    });
    var format = function (iso) { return clock.format(new Date(iso)); };

    // The same markup as live.html's rows (test_dashboard_newcomer.py compares them).
    function addEvent(e) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-id", e.id);
      tr.className = "fresh";
      cell(tr, format(e.received_at));
      cell(tr, e.kind, "badge kind-" + e.kind);
      cell(tr, e.name);
      link(cell(tr, ""), base + "/contacts/" + pathPart(e.contact_uid), e.contact_uid);
      var account = cell(tr, "");
      if (e.account_uid) { link(account, base + "/accounts/" + pathPart(e.account_uid), e.account_uid); }
      cell(tr, e.params, "raw");
      events.insertBefore(tr, events.firstChild);
    }

    // The same markup as live.html's rows (test_dashboard_newcomer.py compares them).
    function addRejected(r) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-id", r.id);
      tr.className = "fresh";
      cell(tr, format(r.received_at));
      var where = append(cell(tr, ""), element("code", "", r.path));
      if (r.item_index !== null) { append(where, " ", element("span", "muted", "#" + r.item_index)); }
      var why = append(cell(tr, ""), element("span", "badge bad-code", r.code), " " + r.reason);
      if (r.field) { append(why, " ", append(element("span", "muted"), "(field ", element("code", "", r.field), ")")); }
      cell(tr, r.raw, "raw");
      rejected.insertBefore(tr, rejected.firstChild);
    }

    function tick() {
      var url = feed + "?event=" + newestId(events) + "&rejected=" + newestId(rejected);
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (answer) {
        if (!answer.ok) { throw new Error(String(answer.status)); }
        return answer.json();
      }).then(function (data) {
        data.events.slice().reverse().forEach(addEvent);
        data.rejected.slice().reverse().forEach(addRejected);
        Object.keys(data.write_path || {}).forEach(function (key) {
          var figure = document.getElementById("write-path-" + key);
          if (figure) { figure.textContent = data.write_path[key]; }
        });
        Array.prototype.forEach.call(document.querySelectorAll(".empty-note"), function (note) {
          if (note.parentNode.querySelector("tr[data-id]")) { note.hidden = true; }
        });
        status.textContent = "live";
        status.className = "live-dot";
      }).catch(function () {
        status.textContent = "reconnecting";
        status.className = "live-dot off";
      }).then(function () { setTimeout(tick, poll); });
    }
    setTimeout(tick, poll);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    copyButtons();
    var status = document.getElementById("live-status");
    if (status) { startLive(status); }
  });
})();
