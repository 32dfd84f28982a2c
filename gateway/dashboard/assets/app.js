// Levee dashboard: renders the Server-Sent Events of /api/v1/events and
// sends the admin API's action requests. No dependencies, no build step.
"use strict";
(function () {
  const API = document.documentElement.dataset.api || "/api/v1";
  const $ = (id) => document.getElementById(id);
  let points = [];   // chart history, oldest first
  let maxPoints = 120;
  let state = null;  // the latest Snapshot

  // ---- formatting -------------------------------------------------------
  const num = (v, d = 1) => (v === undefined || v === null || isNaN(v)) ? "–" : Number(v).toFixed(d);
  const pct = (v) => num(v, 1) + " %";
  function secs(s) { // seconds to a short human duration
    if (s === undefined || s === null || s < 0) return "–";
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 0) + " ms";
    if (s < 120) return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }
  const clock = (t) => new Date(t).toLocaleTimeString();
  const STATES = { // breaker state: symbol, words, class
    closed: ["✓", "closed", "st-ok"], open: ["✕", "open", "st-bad"], half_open: ["◐", "half open", "st-warn"],
    forced_open: ["■", "forced open", "st-bad"], disabled: ["–", "disabled", "st-off"], metrics_only: ["◌", "metrics only", "st-off"],
  };
  function badge(st) {
    const [sym, words, cls] = STATES[st] || ["?", st || "unknown", "st-off"];
    const b = el("span", "badge " + cls);
    b.dataset.state = st || "";
    b.append(el("span", null, sym, { "aria-hidden": "true" }), " " + words);
    return b;
  }
  function el(tag, cls, text, attrs) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  function td(text, cls) { return el("td", cls, text); }

  // ---- tables that keep their rows (and focus) across updates -----------
  // sync makes tbody hold one row per item, keyed by key(item): a row is
  // built once by make and refreshed by fill, so a focused button stays.
  function sync(tbody, items, key, make, fill, emptyText, cols) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) old.set(tr.dataset.key, tr);
    const rows = [];
    for (const it of items) {
      const k = key(it);
      let tr = old.get(k);
      if (tr) old.delete(k); else { tr = make(it); tr.dataset.key = k; }
      fill(tr, it);
      rows.push(tr);
    }
    if (!items.length) {
      let tr = old.get("__empty");
      if (tr) old.delete("__empty"); else {
        tr = el("tr", "empty"); tr.dataset.key = "__empty";
        const c = td(emptyText); c.colSpan = cols; tr.append(c);
      }
      rows.push(tr);
    }
    for (const tr of old.values()) tr.remove();
    rows.forEach((tr, i) => { if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null); });
  }
  function cells(tr, n) { while (tr.cells.length < n) tr.append(td("")); return tr.cells; }
  function setText(c, t, cls) { c.textContent = t; if (cls) c.className = cls; }

  // ---- charts: small hand-drawn SVG line charts ---------------------------
  const SVGNS = "http://www.w3.org/2000/svg";
  function chart(svgId, legendId, series, fmt) {
    // The viewBox follows the drawn width, so that text is not stretched.
    const svg = $(svgId), W = Math.max(svg.clientWidth || 480, 200), H = 180, L = 48, B = 16, T = 8;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.replaceChildren();
    let max = 0, t0 = Infinity, t1 = -Infinity;
    for (const s of series) for (const [t, v] of s.points) { max = Math.max(max, v); t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
    max = max > 0 ? niceMax(max) : 1;
    if (!(t1 > t0)) { t0 = (t1 > -Infinity ? t1 : 0) - 1; }
    for (const f of [0, 0.5, 1]) {
      const y = T + (H - T - B) * (1 - f);
      svg.append(svgEl("line", { class: "grid", x1: L, x2: W, y1: y, y2: y }));
      const lab = svgEl("text", { class: "axis", x: 2, y: y + 4 }); lab.textContent = fmt(max * f); svg.append(lab);
    }
    const legend = $(legendId); legend.replaceChildren();
    series.forEach((s, i) => {
      const pts = s.points.map(([t, v]) => ((L + (W - L) * (t - t0) / (t1 - t0)).toFixed(1) + "," + (T + (H - T - B) * (1 - v / max)).toFixed(1))).join(" ");
      const pl = svgEl("polyline", { class: "s" + (i % 6), points: pts });
      pl.dataset.series = s.name;
      svg.append(pl);
      const li = el("li");
      const sw = document.createElementNS(SVGNS, "svg"); sw.setAttribute("viewBox", "0 0 24 8"); sw.setAttribute("aria-hidden", "true");
      sw.append(svgEl("line", { class: "s" + (i % 6), x1: 0, x2: 24, y1: 4, y2: 4, "stroke-width": 2 }));
      const last = s.points.length ? s.points[s.points.length - 1][1] : undefined;
      li.append(sw, s.name + ": " + (last === undefined ? "–" : fmt(last)));
      legend.append(li);
    });
    if (!series.length) legend.append(el("li", "muted", "no data yet"));
    svg.dataset.max = String(max);
  }
  function niceMax(v) { const p = Math.pow(10, Math.floor(Math.log10(v))); for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p; return 10 * p; }
  function svgEl(tag, attrs) { const e = document.createElementNS(SVGNS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }
  function seriesOf(pick, names) {
    return names.map((name) => ({ name, points: points.filter((p) => pick(p, name) !== undefined).map((p) => [Date.parse(p.time), pick(p, name)]) }));
  }
  function pointOf(s) {
    const p = { time: s.time, routes: {}, slos: {} };
    for (const r of s.routes || []) p.routes[r.name] = [r.rps, r.error_rate, r.p50, r.p99];
    for (const o of s.slos || []) if (o.burn && o.burn.length) p.slos[o.name] = o.burn[0].rate;
    return p;
  }
  function drawCharts() {
    const routes = (state.routes || []).map((r) => r.name);
    chart("chart-rps", "legend-rps", seriesOf((p, n) => p.routes[n] && p.routes[n][0], routes), (v) => num(v, v < 10 ? 1 : 0));
    chart("chart-errors", "legend-errors", seriesOf((p, n) => p.routes[n] && p.routes[n][1], routes), (v) => num(v, 0) + "%");
    const slos = (state.slos || []).map((o) => o.name);
    chart("chart-burn", "legend-burn", seriesOf((p, n) => p.slos && p.slos[n], slos), (v) => num(v, 1) + "×");
  }

  // ---- views --------------------------------------------------------------
  function render() {
    const s = state;
    $("updated").textContent = "Updated " + clock(s.time) + (s.truncated && s.truncated.length ? " · lists cut to their cap: " + s.truncated.join(", ") : "");
    drawCharts();
    sync($("routes").tBodies[0], s.routes || [], (r) => r.name, (r) => {
      const tr = el("tr"); cells(tr, 8);
      tr.cells[0].replaceWith(el("th", null, r.name, { scope: "row" }));
      tr.cells[7].append(
        action("Inject faults…", () => confirmAction({
          title: "Inject faults on route " + r.name,
          text: "Requests on this route will be aborted with the status below, at the given share.",
          method: "PUT", path: "/routes/" + enc(r.name) + "/fault",
          fields: [{ name: "status", label: "Abort status", type: "number", value: "503", min: "200", max: "599" },
                   { name: "percent", label: "Share of requests", value: "50%" }],
          body: (f) => ({ abort: { status: Number(f.status), percent: f.percent } }),
        }), "fault-on"),
        action("Stop faults", () => confirmAction({
          title: "Stop fault injection on route " + r.name, text: "Requests on this route will no longer be faulted.",
          method: "DELETE", path: "/routes/" + enc(r.name) + "/fault",
        }), "fault-off"));
      return tr;
    }, (tr, r) => {
      const c = cells(tr, 8);
      setText(c[1], r.upstream); setText(c[2], num(r.rps), "num");
      setText(c[3], pct(r.error_rate), "num " + (r.error_rate >= 5 ? "st-bad" : ""));
      setText(c[4], secs(r.p50), "num"); setText(c[5], secs(r.p99), "num");
      setText(c[6], (r.refusals || []).map((x) => x.name + " " + num(x.value)).join(", ") || "none");
    }, "No routes reported.", 8);

    const ups = s.upstreams || [];
    sync($("upstream-table").tBodies[0], ups, (u) => u.name, (u) => {
      const tr = el("tr"); cells(tr, 5);
      tr.cells[0].replaceWith(el("th", null, u.name, { scope: "row" }));
      if (u.breaker) {
        const path = "/upstreams/" + enc(u.name) + "/breaker";
        tr.cells[4].append(
          action("Force open", () => confirmAction({ title: "Force open the breaker of " + u.name,
            text: "Every request to " + u.name + " will be refused until the breaker is set back to automatic.",
            method: "PUT", path, body: () => ({ mode: "open" }) }), "force-open"),
          action("Force closed", () => confirmAction({ title: "Force closed the breaker of " + u.name,
            text: "Every request will be sent to " + u.name + " whatever its failures.",
            method: "PUT", path, body: () => ({ mode: "closed" }) }), "force-closed"),
          action("Reset to automatic", () => confirmAction({ title: "Reset the breaker of " + u.name,
            text: "The breaker closes and trips again on its own conditions.",
            method: "PUT", path, body: () => ({ mode: "auto" }) }), "reset"));
      }
      return tr;
    }, (tr, u) => {
      const c = cells(tr, 5), b = u.breaker;
      c[1].replaceChildren(b ? badge(b.state) : el("span", "muted", "no breaker"));
      if (b && b.state === "open" && b.retry_after) c[1].append(" probes in " + secs(b.retry_after));
      setText(c[2], b ? pct(b.failure_rate) + " of " + b.calls : "–", "num");
      setText(c[3], b && b.last_trip ? tripText(b.last_trip) : "never tripped");
    }, "No upstreams reported.", 5);

    const targets = [];
    for (const u of ups) for (const t of u.targets || []) targets.push({ u: u.name, t });
    sync($("target-table").tBodies[0], targets, (x) => x.u + "/" + x.t.address, () => { const tr = el("tr"); cells(tr, 6); return tr; }, (tr, x) => {
      const c = cells(tr, 6), t = x.t;
      setText(c[0], x.u); setText(c[1], t.address);
      const h = t.ejected ? ["⚠", "ejected", "st-bad"] : t.health === "healthy" ? ["✓", "healthy", "st-ok"] : t.health === "unhealthy" ? ["✕", "unhealthy", "st-bad"] : ["?", "not reported", "st-off"];
      const hb = el("span", "badge " + h[2]); hb.append(el("span", null, h[0], { "aria-hidden": "true" }), " " + h[1]);
      c[2].replaceChildren(hb);
      setText(c[3], num(t.rps), "num"); setText(c[4], pct(t.error_rate), "num");
      c[5].replaceChildren(t.breaker ? badge(t.breaker.state) : el("span", "muted", "upstream's"));
    }, "No targets reported.", 6);

    const tl = $("timeline"), items = [];
    for (const u of ups) {
      if (u.breaker) for (const x of u.breaker.transitions || []) items.push({ who: u.name, x });
      for (const t of u.targets || []) if (t.breaker) for (const x of t.breaker.transitions || []) items.push({ who: u.name + " " + t.address, x });
    }
    items.sort((a, b) => Date.parse(b.x.time) - Date.parse(a.x.time));
    tl.replaceChildren(...items.map(({ who, x }) => {
      const li = el("li");
      li.append(clock(x.time) + " · " + who + ": ", badge(x.from), " → ", badge(x.to), " (" + x.reason.replaceAll("_", " ") + (x.threshold ? ": " + num(x.value) + " of " + num(x.threshold) : "") + ")");
      return li;
    }));
    if (!items.length) tl.append(el("li", "muted", "No transitions yet."));

    sync($("limit-table").tBodies[0], s.limits || [], (l) => l.route + "/" + l.kind, (l) => {
      const tr = el("tr"); cells(tr, 7);
      tr.cells[0].replaceWith(el("th", null, l.route, { scope: "row" }));
      if (l.kind === "rate") tr.cells[6].append(action("Change rate…", () => confirmAction({
        title: "Change the rate limit of route " + l.route, text: "The new limit applies at once.",
        method: "PUT", path: "/routes/" + enc(l.route) + "/rate_limit",
        fields: [{ name: "rate", label: "Rate (count/period, e.g. 100/s)", value: Math.round(l.limit) + "/s" },
                 { name: "burst", label: "Burst", type: "number", value: "20", min: "0" }],
        body: (f) => ({ rate: f.rate, burst: Number(f.burst) }),
      }), "change-rate"));
      else tr.cells[6].append(action("Change limit…", () => confirmAction({
        title: "Change the concurrency limit of route " + l.route, text: "The new limit applies at once.",
        method: "PUT", path: "/routes/" + enc(l.route) + "/concurrency",
        fields: [{ name: "limit", label: "Requests in flight", type: "number", value: String(l.limit), min: "1" }],
        body: (f) => ({ limit: Number(f.limit) }),
      }), "change-concurrency"));
      return tr;
    }, (tr, l) => {
      const c = cells(tr, 7), unit = l.kind === "rate" ? "/s" : " in flight";
      setText(c[1], l.kind);
      c[2].replaceChildren();
      if (l.used >= 0) {
        const m = el("meter", null, null, { min: "0", max: String(l.limit), value: String(Math.min(l.used, l.limit)), "aria-label": "usage of " + l.route + " " + l.kind + " limit" });
        c[2].append(m, " " + num(l.used) + " of " + num(l.limit, 0) + unit + " (" + num(100 * l.used / l.limit, 0) + " %)");
      } else c[2].append("limit " + num(l.limit, 0) + unit + "; use not reported");
      setText(c[3], num(l.refused), "num");
      setText(c[4], (l.top_keys || []).map((k) => k.name + " " + num(k.value)).join(", ") || "–");
      setText(c[5], l.redis === "fallback" ? "⚠ falling back to local" : l.redis === "ok" ? "✓ ok" : l.redis ? l.redis : "local");
    }, "No limits configured.", 7);

    sync($("overload-table").tBodies[0], s.overload || [], (o) => o.route, (o) => {
      const tr = el("tr"); cells(tr, 4); tr.cells[0].replaceWith(el("th", null, o.route, { scope: "row" })); return tr;
    }, (tr, o) => {
      const c = cells(tr, 4);
      setText(c[1], o.limit >= 0 ? num(o.limit, 0) : "not reported", "num");
      setText(c[2], o.in_flight >= 0 ? num(o.in_flight, 0) : "not reported", "num");
      setText(c[3], (o.shed || []).map((x) => x.name + " " + num(x.value)).join(", ") || "none");
    }, "No adaptive limits or shedding configured.", 4);

    sync($("slo-table").tBodies[0], s.slos || [], (o) => o.name, (o) => {
      const tr = el("tr"); cells(tr, 6); tr.cells[0].replaceWith(el("th", null, o.name, { scope: "row" })); return tr;
    }, (tr, o) => {
      const c = cells(tr, 6);
      setText(c[1], num(o.objective, 2) + " % over " + secs(o.window));
      setText(c[2], (o.burn || []).map((b) => secs(b.window) + ": " + num(b.rate, 2) + "×").join(", "));
      setText(c[3], pct(o.budget_remaining), "num " + (o.budget_remaining < 25 ? "st-bad" : ""));
      setText(c[4], o.time_to_exhaustion < 0 ? "not burning" : secs(o.time_to_exhaustion));
      setText(c[5], o.firing && o.firing.length ? "⚠ firing: " + o.firing.join(", ") : "✓ none firing", o.firing && o.firing.length ? "st-bad" : "st-ok");
    }, "No SLOs configured.", 6);

    renderConfig(s.config);
  }
  function tripText(t) {
    const unit = t.reason.endsWith("_rate") ? " %" : "";
    let s = clock(t.time) + ": " + t.reason.replaceAll("_", " ") + " " + num(t.value) + unit + " reached " + num(t.threshold) + unit;
    if (t.wait) s += ", open for " + secs(t.wait);
    if (t.error) s += " (" + t.error + ")";
    return s;
  }
  function renderConfig(cfg) {
    const dl = $("config-summary"); dl.replaceChildren();
    const add = (k, v) => dl.append(el("dt", null, k), el("dd", null, v));
    if (!cfg) add("Version", "not reported");
    else {
      add("Version", String(cfg.version) + (cfg.hash ? " (" + cfg.hash.slice(0, 12) + ")" : ""));
      add("Applied", new Date(cfg.applied_at).toLocaleString());
      const r = cfg.reload;
      add("Last reload", r ? r.status.replaceAll("_", " ") + (r.message ? ": " + r.message : "") : "none");
      add("Self-check", r && r.self_check ? (r.self_check === "passed" ? "✓ passed" : r.self_check === "failed" ? "✕ failed" : "… " + r.self_check) : "none");
    }
    const hist = cfg && cfg.history || [];
    sync($("history-table").tBodies[0], hist, (v) => String(v.version), (v) => {
      const tr = el("tr"); cells(tr, 6); tr.cells[0].replaceWith(el("th", null, String(v.version), { scope: "row" }));
      if (v.version === cfg.version) { tr.cells[5].textContent = "running"; return tr; }
      tr.cells[5].append(action("Roll back to " + v.version, () => confirmAction({
        title: "Roll back to configuration version " + v.version,
        text: "The gateway applies version " + v.version + " as a new version." + (v.bad ? " It is marked bad: the admin API refuses it unless forced." : ""),
        method: "POST", path: "/config/rollback", body: () => ({ version: v.version, force: false }),
      }), "rollback"));
      return tr;
    }, (tr, v) => {
      const c = cells(tr, 6);
      setText(c[1], new Date(v.applied_at).toLocaleString()); setText(c[2], v.source || "–");
      setText(c[3], v.hash ? v.hash.slice(0, 12) : "–");
      setText(c[4], v.bad ? "✕ bad: " + (v.reason || "") : "✓ good", v.bad ? "st-bad" : "st-ok");
    }, "No history reported.", 6);
  }

  // ---- actions --------------------------------------------------------------
  const enc = encodeURIComponent;
  function action(label, fn, kind) {
    const b = el("button", kind === "force-open" ? "danger" : null, label, { type: "button" });
    b.dataset.action = kind;
    b.addEventListener("click", fn);
    return b;
  }
  // confirmAction asks in a modal dialog (Escape or Cancel backs out) and,
  // when confirmed, sends the request to the admin API.
  function confirmAction(a) {
    const dlg = $("confirm"), fields = $("confirm-fields");
    $("confirm-title").textContent = a.title;
    $("confirm-text").textContent = a.text;
    fields.replaceChildren();
    for (const f of a.fields || []) {
      const lab = el("label", null, f.label);
      const inp = el("input", null, null, { name: f.name, type: f.type || "text", required: "" });
      inp.value = f.value; if (f.min) inp.min = f.min; if (f.max) inp.max = f.max;
      lab.append(inp); fields.append(lab);
    }
    const values = () => { const o = {}; for (const i of fields.querySelectorAll("input")) o[i.name] = i.value; return o; };
    const describe = () => { $("confirm-request").textContent = a.method + " " + API + a.path + (a.body ? " " + JSON.stringify(a.body(values())) : ""); };
    describe();
    fields.oninput = describe;
    dlg.returnValue = "";
    dlg.onclose = () => { if (dlg.returnValue === "ok") send(a.method, a.path, a.body ? a.body(values()) : undefined); };
    dlg.showModal();
    const first = fields.querySelector("input"); (first || $("confirm-cancel")).focus();
  }
  async function send(method, path, body) {
    const status = $("action-status");
    status.textContent = "Sending " + method + " " + API + path + "…";
    try {
      const resp = await fetch(API + path, {
        method, credentials: "same-origin",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let detail = "";
      if (!resp.ok) {
        try { const p = await resp.json(); detail = p.detail || p.title || ""; } catch (e) { detail = resp.statusText; }
      }
      status.textContent = (resp.ok ? "✓ Done: " : "✕ Failed: ") + method + " " + API + path + " answered " + resp.status + (detail ? " — " + detail : "");
    } catch (e) {
      status.textContent = "✕ Failed: " + method + " " + API + path + ": " + e.message;
    }
  }

  // ---- the stream -------------------------------------------------------------
  function connect() {
    const conn = $("conn");
    const es = new EventSource(API + "/events");
    es.addEventListener("snapshot", (ev) => {
      const d = JSON.parse(ev.data);
      points = d.history || [];
      maxPoints = Math.max(points.length, 120);
      state = d.state;
      render();
      if (!document.documentElement.dataset.ready) {
        document.documentElement.dataset.ready = "1";
        window.leveeReadyAt = performance.now();
      }
    });
    es.addEventListener("update", (ev) => {
      state = JSON.parse(ev.data);
      points.push(pointOf(state));
      if (points.length > maxPoints) points.splice(0, points.length - maxPoints);
      render();
    });
    es.addEventListener("problem", (ev) => {
      $("updated").textContent = "The gateway could not encode an update: " + JSON.parse(ev.data).error;
    });
    es.addEventListener("error", () => { // EventSource reconnects on its own after the stream's retry delay
      conn.replaceChildren(el("span", "st-warn", "⟳", { "aria-hidden": "true" }), " Reconnecting");
      conn.dataset.state = "reconnecting";
    });
    es.addEventListener("open", () => {
      conn.replaceChildren(el("span", "st-ok", "●", { "aria-hidden": "true" }), " Live");
      conn.dataset.state = "live";
    });
  }
  $("confirm-cancel").addEventListener("click", () => $("confirm").close("cancel"));
  connect();
})();
