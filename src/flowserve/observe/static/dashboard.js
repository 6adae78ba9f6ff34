// flowserve live dashboard: polls /dashboard/api/snapshot and /history every second and draws
// the topology, the per-executor table and the charts with plain SVG (no libraries).
"use strict";

const BASE = location.pathname.replace(/\/+$/, "");
const POLL_MS = 1000;
const CHART_SECONDS = 300;
const PALETTE = ["#6ea8fe", "#f5a623", "#3ecf8e", "#c792ea", "#ff8a65", "#4dd0e1", "#f06292",
  "#aed581"];
const SVG_NS = "http://www.w3.org/2000/svg";
let polls = 0;
const colors = {};

// -- formatting -------------------------------------------------------------------------------
function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`;
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}
function fmtRate(r) { return r === null || r === undefined ? "–" : `${r.toFixed(r < 10 ? 1 : 0)}/s`; }
function fmtPct(p) { return p === null || p === undefined ? "–" : `${(p * 100).toFixed(p < 1 ? 1 : 0)}%`; }
function pctClass(p) { return p === null || p === undefined ? "" : p >= 0.99 ? "good" : p >= 0.9 ? "meh" : "bad"; }
function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
function colorOf(name, i) { return colors[name] || (colors[name] = PALETTE[i % PALETTE.length]); }

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function setText(id, text, cls) {
  const node = document.getElementById(id);
  node.textContent = text;
  if (cls !== undefined) node.className = `value ${cls}`;
}

// -- header, alert, clients --------------------------------------------------------------------
function renderHeader(snap) {
  const g = snap.gateway || {};
  document.getElementById("flow-name").textContent = snap.name;
  document.title = `flowserve · ${snap.name}`;
  setText("gw-rate", fmtRate(g.rate));
  setText("gw-success", fmtPct(g.success_rate), pctClass(g.success_rate));
  setText("gw-p50", fmtSeconds(g.p50));
  setText("gw-p95", fmtSeconds(g.p95));
  setText("gw-p99", fmtSeconds(g.p99));
  setText("gw-inflight", String(g.in_flight ?? "–"));
  setText("gw-queued", String(g.queue_depth ?? "–"), g.queue_depth > 0 ? "bad" : "");
  const live = document.getElementById("live");
  live.className = "dot live";
  const updated = document.getElementById("updated");
  updated.textContent = `updated ${new Date(snap.t * 1000).toLocaleTimeString()}`;
  updated.dataset.t = String(snap.t);
}

function renderAlert(snap) {
  const box = document.getElementById("alert");
  const hot = snap.hot;
  if (!hot) { box.className = "alert hidden"; box.textContent = ""; return; }
  box.className = "alert";
  box.replaceChildren();
  const add = (text, bold) => box.append(bold ? el("b", {}, text) : document.createTextNode(text));
  add("⚠ Queue building at ");
  add(hot.node, true);
  add(`: ${hot.queue_depth} request${hot.queue_depth === 1 ? "" : "s"} waiting for ${hot.capacity} slot${hot.capacity === 1 ? "" : "s"}`);
  if (hot.wait_p95 !== null && hot.wait_p95 !== undefined) add(` (p95 wait ${fmtSeconds(hot.wait_p95)})`);
  if (hot.client) {
    add(". Top client ");
    add(hot.client, true);
    add(` has ${hot.client_queued} queued (${Math.round(hot.share * 100)}% of that queue).`);
  }
  box.dataset.node = hot.node;
  box.dataset.client = hot.client || "";
}

function renderClients(snap) {
  const box = document.getElementById("clients");
  const rows = (snap.clients || []).filter((c) => c.queued > 0 || c.in_flight > 0).slice(0, 8);
  box.replaceChildren();
  if (!rows.length) { box.append(el("p", { class: "muted" }, "no requests waiting")); return; }
  const max = Math.max(1, ...rows.map((c) => c.queued));
  rows.forEach((c, i) => {
    const row = el("div", { class: `client-row${i === 0 && c.queued > 0 ? " top" : ""}`, "data-client": c.client });
    row.append(el("span", { class: "name", title: c.client }, c.client));
    row.append(el("span", { class: "count" }, String(c.queued)));
    const track = el("div", { class: "track" });
    track.append(el("div", { class: "fill", style: `width:${(100 * c.queued) / max}%` }));
    row.append(track);
    row.append(el("span", { class: "muted", style: "grid-column: span 2; font-size: 11px" },
      `${c.in_flight} in flight · ${c.admitted} admitted · ${c.rejected} rejected`));
    box.append(row);
  });
}

// -- node table ----------------------------------------------------------------------------------
function renderTable(snap) {
  const body = document.querySelector("#node-table tbody");
  body.replaceChildren();
  const hot = snap.hot ? snap.hot.node : null;
  const maxQueue = Math.max(1, ...Object.values(snap.nodes).map((n) => n.queue_depth || 0));
  snap.topology.nodes.forEach((t, i) => {
    const n = snap.nodes[t.name] || {};
    const tr = el("tr", { "data-node": t.name, class: t.name === hot ? "hot" : "" });
    const name = el("td");
    name.append(el("span", { class: "swatch", style: `background:${colorOf(t.name, i)}` }));
    name.append(document.createTextNode(t.name));
    tr.append(name);
    const cell = (field, text, cls = "num") => tr.append(el("td", { class: cls, "data-field": field }, text));
    cell("replicas", `${n.replicas ?? t.replicas}/${t.replicas}`, "");
    cell("rate", fmtRate(n.rate));
    cell("success_rate", fmtPct(n.success_rate), `num ${pctClass(n.success_rate)}`);
    cell("p50", fmtSeconds(n.p50));
    cell("p95", fmtSeconds(n.p95));
    cell("p99", fmtSeconds(n.p99));
    cell("in_flight", `${n.in_flight ?? 0}/${n.capacity ?? 0}`);
    const q = el("td", { "data-field": "queue_depth", "data-value": String(n.queue_depth ?? 0) });
    q.append(el("span", { class: `bar${t.name === hot ? " hot" : ""}`, style: `width:${Math.round((90 * (n.queue_depth || 0)) / maxQueue)}px` }));
    q.append(document.createTextNode(String(n.queue_depth ?? 0)));
    tr.append(q);
    const top = (n.top_clients || []).filter((c) => c.queued > 0).slice(0, 3)
      .map((c) => `${short(c.client, 28)} (${c.queued})`).join(", ");
    cell("top_clients", top || "–", "");
    body.append(tr);
  });
}

// -- topology -------------------------------------------------------------------------------------
function renderGraph(snap) {
  const root = document.getElementById("graph");
  const W = 900, H = 250, BW = 210, BH = 104, TW = 84, TH = 40;
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  root.replaceChildren();
  const nodes = snap.topology.nodes;
  const maxDepth = Math.max(1, ...nodes.map((n) => n.depth));
  // terminals at the edges, executor columns evenly between them (by depth in the DAG)
  const left = 12 + TW + 30, right = W - 12 - TW - 30;
  const colX = (d) => d === 0 ? 12 + TW / 2 : d > maxDepth ? W - 12 - TW / 2
    : left + ((right - left) * (d - 0.5)) / maxDepth;
  const pos = { gateway: { x: colX(0), y: H / 2, w: TW, h: TH } };
  for (let d = 1; d <= maxDepth; d++) {
    const here = nodes.filter((n) => n.depth === d);
    const h = Math.min(BH, (H - 12) / here.length - 10);
    here.forEach((n, k) => { pos[n.name] = { x: colX(d), y: (H * (k + 0.5)) / here.length, w: BW, h }; });
  }
  pos["\0out"] = { x: colX(maxDepth + 1), y: H / 2, w: TW, h: TH };
  const edges = [];
  nodes.forEach((n) => n.needs.forEach((from) => edges.push([from, n.name])));
  (snap.topology.sinks || []).forEach((s) => edges.push([s, "\0out"]));
  for (const [from, to] of edges) {
    const a = pos[from], b = pos[to];
    if (!a || !b) continue;
    const x1 = a.x + a.w / 2, x2 = b.x - b.w / 2, mid = (x1 + x2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${a.y} C${mid},${a.y} ${mid},${b.y} ${x2 - 6},${b.y}` }));
    root.append(svg("path", { d: `M${x2 - 8},${b.y - 5} L${x2},${b.y} L${x2 - 8},${b.y + 5}`, fill: "#4a5878" }));
    const target = snap.nodes[to];
    if (target) root.append(svg("text", { class: "edge-label", x: mid, y: (a.y + b.y) / 2 - 6, "text-anchor": "middle" }, fmtRate(target.rate)));
  }
  const terminal = (key, label) => {
    const p = pos[key];
    const g = svg("g", { class: "terminal" });
    g.append(svg("rect", { x: p.x - p.w / 2, y: p.y - p.h / 2, width: p.w, height: p.h, rx: 20 }));
    g.append(svg("text", { x: p.x, y: p.y + 4, "text-anchor": "middle" }, label));
    root.append(g);
  };
  terminal("gateway", "gateway");
  terminal("\0out", "response");
  const hot = snap.hot ? snap.hot.node : null;
  const maxQueue = Math.max(1, ...Object.values(snap.nodes).map((n) => n.queue_depth || 0));
  nodes.forEach((t, i) => {
    const n = snap.nodes[t.name] || {};
    const p = pos[t.name];
    const x = p.x - p.w / 2, y = p.y - p.h / 2;
    const g = svg("g", { class: `node${t.name === hot ? " hot" : ""}`, "data-node": t.name });
    g.append(svg("rect", { class: "box", x, y, width: p.w, height: p.h, rx: 8 }));
    g.append(svg("rect", { x, y: y + 8, width: 4, height: p.h - 16, rx: 2, fill: colorOf(t.name, i) }));
    g.append(svg("text", { class: "title", x: x + 12, y: y + 20 }, short(t.name, 21)));
    (n.replica_rows || []).slice(0, 8).forEach((r, k) => {
      const state = r.ejected ? "down" : r.in_flight > 0 ? "busy" : "ok";
      g.append(svg("circle", { class: `replica ${state}`, cx: x + p.w - 12 - k * 12, cy: y + 16, r: 4 }));
    });
    if (p.h >= 60) {
      g.append(svg("text", { class: "sub", x: x + 12, y: y + 40 },
        `${n.replicas ?? t.replicas}/${t.replicas} replicas · ${fmtRate(n.rate)} · ${fmtPct(n.success_rate)}`));
      g.append(svg("text", { class: "sub", x: x + 12, y: y + 58 },
        `p50 ${fmtSeconds(n.p50)} · p99 ${fmtSeconds(n.p99)}`));
    }
    const qy = y + p.h - 16, qw = p.w - 24;
    g.append(svg("rect", { class: "qtrack", x: x + 12, y: qy, width: qw, height: 6, rx: 3 }));
    g.append(svg("rect", { class: "qfill", x: x + 12, y: qy, width: (qw * (n.queue_depth || 0)) / maxQueue, height: 6, rx: 3 }));
    g.append(svg("text", { class: "sub", x: x + p.w - 12, y: qy - 4, "text-anchor": "end" },
      `queue ${n.queue_depth ?? 0} · in flight ${n.in_flight ?? 0}/${n.capacity ?? 0}`));
    root.append(g);
  });
}

// -- charts ---------------------------------------------------------------------------------------
// y axis: a round step (1, 2 or 5 x 10^n) giving 2 to 4 intervals up to the largest value
function axis(v) {
  if (!(v > 0)) return { top: 1, step: 0.25 };
  const rough = v / 4, p = Math.pow(10, Math.floor(Math.log10(rough)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= rough);
  return { top: Math.ceil(v / step) * step, step };
}

function lineChart(id, legendId, series, fmt, now, span) {
  const root = document.getElementById(id);
  const W = 440, H = 190, L = 52, R = 8, T = 8, B = 20;
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  root.replaceChildren();
  const values = series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => v !== null));
  const { top, step } = axis(Math.max(0, ...values) * 1.05);
  const x = (t) => L + ((W - L - R) * (t - (now - span))) / span;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  for (let v = 0; v <= top + step / 2; v += step) {
    root.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    root.append(svg("text", { class: "axis", x: L - 6, y: y(v) + 3, "text-anchor": "end" }, v === 0 ? "0" : fmt(v)));
  }
  for (let k = 5; k >= 0; k--) {
    const ago = (span * k) / 5;
    const label = k === 0 ? "now" : span >= 120 ? `-${+(ago / 60).toFixed(1)}m` : `-${Math.round(ago)}s`;
    root.append(svg("text", { class: "axis", x: x(now - ago), y: H - 5, "text-anchor": k === 0 ? "end" : "middle" }, label));
  }
  for (const s of series) {
    let d = "", pen = false;
    for (const [t, v] of s.points) {
      if (v === null || t < now - span) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    if (d) root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-linejoin": "round" }));
  }
  const legend = document.getElementById(legendId);
  legend.replaceChildren(...series.map((s) => el("span", { style: `--c:${s.color}` }, s.name)));
}

function renderCharts(snap, history) {
  const points = history.points || [];
  const now = points.length ? points[points.length - 1].t : snap.t;
  const names = snap.topology.nodes.map((n) => n.name);
  // the last minute at least, growing by whole minutes up to CHART_SECONDS as history fills
  const kept = points.length ? now - points[0].t : 0;
  const span = Math.min(CHART_SECONDS, Math.max(60, Math.ceil(kept / 60) * 60));
  const series = (field) => names.map((name, i) => ({
    name, color: colorOf(name, i),
    points: points.map((p) => [p.t, p.nodes[name] ? p.nodes[name][field] : null]),
  }));
  lineChart("chart-rate", "legend-rate", series("rate"), (v) => String(+v.toFixed(2)), now, span);
  lineChart("chart-latency", "legend-latency", series("p95"),
    (v) => (v < 1 ? fmtSeconds(v) : `${+v.toFixed(2)} s`), now, span);
  lineChart("chart-queue", "legend-queue", series("queue_depth"), (v) => String(Math.round(v)), now, span);
}

// -- polling --------------------------------------------------------------------------------------
async function getJSON(path) {
  const reply = await fetch(BASE + path, { cache: "no-store" });
  if (!reply.ok) throw new Error(`${path}: HTTP ${reply.status}`);
  return reply.json();
}

async function poll() {
  try {
    const [snap, history] = await Promise.all([
      getJSON("/api/snapshot"), getJSON(`/api/history?seconds=${CHART_SECONDS}`)]);
    renderHeader(snap);
    renderAlert(snap);
    renderGraph(snap);
    renderTable(snap);
    renderClients(snap);
    renderCharts(snap, history);
    polls += 1;
    document.body.dataset.polls = String(polls);
  } catch (err) {
    document.getElementById("live").className = "dot stale";
    document.getElementById("updated").textContent = `cannot reach the gateway (${err.message})`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
