// The modelserve dashboard: reads the service's own JSON endpoints (the same answers any client
// gets) every REFRESH_MS and redraws. Each section fails on its own: a failed endpoint shows
// "unavailable" there and the rest keeps refreshing. Text from JSON is only ever inserted with
// textContent / createElement, never innerHTML: model names, descriptions and errors come from
// whoever can write to the control topic.
"use strict";

const REFRESH_MS = 2500;
const FETCH_TIMEOUT_MS = 5000; // a hung endpoint must not stop the refresh loop
const HISTORY_SHOWN = 4;
const PARTITIONS_SHOWN = 48;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// el("td", {class: "x"}, "text", node, ...): strings become text nodes; null shows as "—".
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : c == null ? "—" : String(c));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

// Non-2xx answers throw, except the statuses in `accept` (a 503 from /health/ready carries
// its checks; a 404 from /cluster means "no cluster view here", not a failure).
async function getJSON(path, accept = []) {
  const answer = await fetch(path, { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!answer.ok && !accept.includes(answer.status)) throw new Error(`HTTP ${answer.status}`);
  return { status: answer.status, body: await answer.json() };
}

// Runs one section's refresh; a failure marks only that section (its old content is dimmed).
async function section(id, refresh) {
  const box = $(id), note = box.querySelector(".unavailable");
  try {
    await refresh(box);
    box.classList.remove("stale");
    note.hidden = true;
  } catch (error) {
    box.classList.add("stale");
    note.hidden = false;
    note.textContent = `unavailable (${error.message})`;
  }
}

function setNum(id, value) {
  // Plain digits in the text (no separators) and in data-value: what /stats says, as is.
  const node = $(id);
  node.textContent = node.dataset.value = value == null ? "—" : String(value);
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds)), pad = (n) => String(n).padStart(2, "0");
  if (s >= 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${s}s`;
}

const clock = (at) => (at ? new Date(at).toLocaleTimeString([], { hour12: false }) : "—");
const badge = (text, kind) => el("span", { class: `badge ${kind || text}` }, text);

function header(stats, cluster, health) {
  $("instance").textContent =
    cluster.status !== "fulfilled" ? "unavailable"
    : cluster.value.status === 404 ? "(no cluster view)" : cluster.value.body.instance;
  document.title = `modelserve · ${$("instance").textContent}`;
  const h = $("health");
  if (health.status === "fulfilled") {
    const { ready, ...checks } = health.value.body;
    const failing = Object.keys(checks).filter((k) => checks[k] === false);
    h.textContent = ready ? "ready" : `not ready: ${failing.join(", ")}`;
    h.className = `badge ${ready ? "ok" : "bad"}`;
  } else {
    h.textContent = "unavailable";
    h.className = "badge unknown";
  }
  $("uptime").textContent = stats.status === "fulfilled" ? duration(stats.value.uptime) : "unavailable";
}

async function totals(statsP) {
  const stats = await statsP;
  for (const key of ["consumed", "scored", "dlq", "batches", "avgBatchSize", "models"]) setNum(`stat-${key}`, stats[key]);
}

async function deadLetters(statsP, box) {
  const reasons = Object.entries((await statsP).deadLetters || {}).sort((a, b) => b[1] - a[1]);
  $("deadletters-body").replaceChildren(...reasons.map(([reason, count]) =>
    el("tr", { "data-reason": reason }, el("td", {}, reason), el("td", { class: "n", "data-value": count }, count))));
  box.querySelector(".empty").hidden = reasons.length > 0;
}

// Open Inference Protocol requests per transport, from /metrics (a supervisor sums its
// workers'): answered (outcome "ok") and refused (any error status).
const INFERENCE = /^modelserve_inference_requests_total\{([^}]*)\} ([0-9.e+]+)$/;

async function inference() {
  const answer = await fetch("/metrics", { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
  const counts = {};
  for (const line of (await answer.text()).split("\n")) {
    const match = INFERENCE.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const row = (counts[labels.protocol] ??= { ok: 0, refused: 0 });
    row[labels.outcome === "ok" ? "ok" : "refused"] += Number(match[2]);
  }
  $("inference-body").replaceChildren(...Object.entries(counts).sort().map(([protocol, c]) =>
    el("tr", { "data-protocol": protocol }, el("td", {}, protocol),
      el("td", { class: "n", "data-value": c.ok }, c.ok), el("td", { class: "n", "data-value": c.refused }, c.refused))));
}

function historyCell(detail) {
  if (!detail) return el("td", { class: "muted" }, "unavailable");
  const shown = detail.history.slice(-HISTORY_SHOWN).reverse();
  const items = shown.map((h) => el("span", {
    class: `hist ${h.status}`,
    title: `v${h.version} ${h.status} since ${h.since}${h.until ? ` until ${h.until}` : ""}${h.error ? `\n${h.error}` : ""}`,
  }, `v${h.version} ${h.status}`, h.error ? el("em", {}, ` ${h.error.length > 60 ? h.error.slice(0, 59) + "…" : h.error}`) : ""));
  const earlier = detail.history.length - shown.length;
  return el("td", { class: "history" }, ...items, earlier > 0 ? el("span", { class: "muted" }, `+${earlier} earlier`) : "");
}

// A REMOTE model's runtime, with its server's state: up, or down (its records wait).
function runtimeCell(m) {
  const e = m.endpoint;
  if (!e) return el("td", { class: "muted" }, m.runtime);
  const title = `${e.url} ${e.state} since ${e.since}${e.lastError ? `\n${e.lastError}` : ""}`;
  return el("td", { class: "muted", title, "data-endpoint": e.state }, m.runtime, " ", badge(e.state));
}

async function models(box) {
  const list = (await getJSON("/models")).body.models;
  // One /models/{name} per model for its history; a failed one loses its history, not its row.
  const details = await Promise.all(list.map((m) =>
    getJSON(`/models/${encodeURIComponent(m.name)}`).then((a) => a.body, () => null)));
  $("models-body").replaceChildren(...list.map((m, i) => {
    const expires = m.expiresAt ? `${clock(m.expiresAt)} (${new Date(m.expiresAt) > Date.now() ? "in " + duration((new Date(m.expiresAt) - Date.now()) / 1000) : "passed"})` : null;
    return el("tr", { "data-model": m.name, "data-version": m.version, "data-status": m.status },
      el("td", { class: "name", title: m.description || null }, m.name),
      el("td", { class: "n" }, m.version),
      el("td", {}, m.dataType),
      el("td", { title: m.error }, badge(m.status)),
      runtimeCell(m),
      el("td", { title: m.expiresAt }, expires),
      historyCell(details[i]));
  }));
  box.querySelector(".empty").hidden = list.length > 0;
}

async function routes(box) {
  const list = (await getJSON("/routes").catch((e) => { box.hidden = false; throw e; })).body.routes;
  box.hidden = list.length === 0; // a service with one model per dataType has no routes to show
  $("routes-body").replaceChildren(...list.map((r) => {
    const members = r.answering ? r.answering.members.map((m) => `${m.name} v${m.version}`).join(", ") : null;
    const notes = [];
    if (r.waitingFor && r.waitingFor.length) notes.push(`waiting for ${r.waitingFor.join(", ")}`);
    if (r.lastRejected) notes.push(`last rejected: ${r.lastRejected.error}`);
    if (r.stats && r.stats.usage != null) notes.push(`${r.stats.usage} records`);
    return el("tr", { "data-route": r.dataType },
      el("td", {}, r.dataType), el("td", {}, badge(r.status)),
      el("td", {}, (r.answering && r.answering.mode) || (r.route && r.route.mode)),
      el("td", {}, members), el("td", { class: "muted" }, notes.join(" · ") || ""));
  }));
}

// A line chart in hand-written SVG. series: [{name, cls, points: [[t, value|null], ...]}];
// a null value breaks the line (no batch in that step, or a counter that went back).
function lineChart(box, series, unit) {
  const W = 520, H = 150, L = 44, R = 8, T = 10, B = 20;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img" });
  const all = series.flatMap((s) => s.points);
  const legend = el("div", { class: "legend" });
  // A line needs two points, and a point is a difference of two samples: three samples.
  if (Math.max(...series.map((s) => s.points.length)) < 2) {
    root.append(svg("text", { x: W / 2, y: H / 2, class: "note", "text-anchor": "middle" }, "collecting…"));
    box.replaceChildren(root, legend);
    return;
  }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const top = niceMax(Math.max(0, ...all.map((p) => p[1] ?? 0)));
  const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  for (const v of [0, top / 2, top]) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, fmt(v)));
  }
  root.append(svg("text", { x: L, y: H - 4, class: "axis" }, clock(new Date(t0 * 1000))));
  root.append(svg("text", { x: W - R, y: H - 4, "text-anchor": "end", class: "axis" }, clock(new Date(t1 * 1000))));
  for (const s of series) {
    // Runs of consecutive values: a line each, or a dot for a lone value between gaps.
    const runs = [[]];
    for (const [t, v] of s.points) v == null ? runs.push([]) : runs[runs.length - 1].push([x(t).toFixed(1), y(v).toFixed(1)]);
    for (const run of runs) {
      if (run.length === 1) root.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5, class: `dot ${s.cls}` }));
      if (run.length > 1) root.append(svg("path", { d: `M${run.join(" L")}`, class: `line ${s.cls}` }));
    }
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    legend.append(el("span", { class: `key ${s.cls}` }, `${s.name}: ${last == null ? "—" : fmt(last) + unit}`));
  }
  box.replaceChildren(root, legend);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

const fmt = (v) => (v >= 100 ? String(Math.round(v)) : v >= 10 ? String(+v.toFixed(1)) : String(+v.toFixed(2)));

async function timeline() {
  const { stepS, samples } = (await getJSON("/timeline")).body;
  const rate = [], dlq = [], mean = [], slowest = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], t = b.t;
    // Differences of cumulative counts; a gap of several steps is divided by its real length.
    const dt = b.t - a.t > 0 ? b.t - a.t : stepS;
    const reset = b.scored < a.scored || b.batches < a.batches; // a restarted worker
    const dBatches = b.batches - a.batches;
    rate.push([t, reset ? null : (b.scored - a.scored) / dt]);
    dlq.push([t, reset ? null : (b.dlq - a.dlq) / dt]);
    mean.push([t, reset || dBatches <= 0 ? null : (b.scoringMs - a.scoringMs) / dBatches]);
    slowest.push([t, b.slowestMs]);
  }
  lineChart($("chart-throughput"), [
    { name: "scored/s", cls: "s1", points: rate },
    { name: "dead letters/s", cls: "s2", points: dlq },
  ], "");
  lineChart($("chart-latency"), [
    { name: "mean per batch", cls: "s1", points: mean },
    { name: "slowest call", cls: "s3", points: slowest },
  ], " ms");
}

async function cluster(clusterP, box) {
  const answer = await clusterP.catch((e) => { box.hidden = false; throw e; });
  // 404: this process keeps no cluster view; hide what would only say "unavailable".
  const absent = answer.status === 404;
  box.hidden = absent;
  for (const node of document.querySelectorAll(".cluster-only")) node.hidden = absent;
  if (absent) return;
  const doc = answer.body;
  setNum("stat-lag", doc.totals.lag);
  $("cluster-summary").textContent =
    `${doc.alive.length} alive · ${doc.stopped.length} stopped · ${doc.departed.length} departed · lag ${doc.totals.lag} · as of ${clock(doc.at)}`;
  $("instances-body").replaceChildren(...doc.instances.map((i) => {
    const alive = i.workers.filter((w) => w.alive).length;
    return el("tr", { "data-instance": i.instance, class: i.instance === doc.instance ? "self" : null },
      el("td", { class: "name" }, i.instance), el("td", {}, badge(i.state)),
      el("td", {}, i.host), el("td", {}, i.version),
      el("td", { class: "n", title: i.workers.map((w) => `pid ${w.pid}${w.alive ? "" : " (dead)"}`).join("\n") }, `${alive}/${i.workers.length}`),
      el("td", { class: "n" }, i.partitions.length), el("td", { class: "n" }, i.lag),
      el("td", { class: "n" }, i.stats ? i.stats.scored : null),
      el("td", { title: `last seen ${i.lastSeen}, started ${i.startedAt}` }, `${duration(i.ageS)} ago`));
  }));
  const parts = doc.partitions.slice(0, PARTITIONS_SHOWN).map((p) =>
    el("span", { class: p.lag > 0 ? "chip lagging" : "chip", title: `${p.topic}[${p.partition}] held by ${p.instance}${p.worker != null ? ` worker ${p.worker}` : ""}` },
      `${p.topic}/${p.partition} lag ${p.lag} → ${p.instance}`));
  const more = doc.partitions.length - parts.length;
  $("partitions").replaceChildren(...parts, more > 0 ? el("span", { class: "muted" }, `+${more} more`) : "");
}

async function tick() {
  // /stats and /cluster feed several sections: fetched once per tick and shared.
  const stats = getJSON("/stats").then((a) => a.body);
  const clusterP = getJSON("/cluster", [404]);
  const health = getJSON("/health/ready", [503]);
  await Promise.allSettled([
    Promise.allSettled([stats, clusterP, health]).then(([s, c, h]) => header(s, c, h)),
    section("totals", () => totals(stats)),
    section("deadletters", (box) => deadLetters(stats, box)),
    section("inference", inference),
    section("models", models),
    section("routes", routes),
    section("charts", timeline),
    section("cluster", (box) => cluster(clusterP, box)),
  ]);
  $("updated").textContent = clock(new Date());
  setTimeout(tick, REFRESH_MS); // after the answers, so a slow service never piles up requests
}

tick();
