/*
 * mailpulse dashboard: fills the pages from the JSON API. Every value from
 * the server goes into the page through textContent or an SVG attribute,
 * never through innerHTML: greetings, messages and certificate names are
 * chosen by the monitored servers.
 */
"use strict";

const TOKEN_KEY = "mailpulse.token";
/* The phases of a probe in the order they happen (result.h), "total" aside. */
const PHASES = ["dns", "connect", "tls", "greeting", "capability", "starttls", "login", "mailbox"];
const PHASE_COLORS = {
	dns: "#8e7cc3", connect: "#4a90d9", tls: "#2bb3a3", greeting: "#e8833a",
	capability: "#c9a227", starttls: "#5b8c5a", login: "#b5589e", mailbox: "#7a8aa6",
};
const FAIL_COLOR = "#d64545", TTG_COLOR = "#e8833a", P95_COLOR = "#1d2330";
/* The chart's ranges (the select's values, also ?range= in the URL) and, for long ones, the bucket asked of /series. */
const RANGES = { "1h": 3600000, "6h": 21600000, "24h": 86400000, "7d": 604800000, "30d": 2592000000 };
const RANGE_BUCKETS = { "7d": "1h", "30d": "6h" };
const SVGNS = "http://www.w3.org/2000/svg";
/* Results one /results request returns at most (API_RESULTS_MAX). */
const API_LIMIT = 10000;

function $(id) { return document.getElementById(id); }

/* An element with text; attrs set as properties or attributes. */
function el(tag, text, attrs) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null) e.textContent = String(text);
	for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
	return e;
}

function svg(tag, attrs, text) {
	const e = document.createElementNS(SVGNS, tag);
	for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
	if (text !== undefined) e.textContent = String(text);
	return e;
}

function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

class AuthNeeded extends Error {}

async function api(path, opts) {
	const o = Object.assign({ headers: {} }, opts || {});
	const t = localStorage.getItem(TOKEN_KEY);
	if (t) o.headers.Authorization = "Bearer " + t;
	const r = await fetch(path, o);
	if (r.status === 401) {
		$("auth").hidden = false;
		throw new AuthNeeded("a token is needed");
	}
	const body = await r.json().catch(() => null);
	if (!r.ok) throw new Error((body && (body.error + ": " + body.detail)) || ("HTTP " + r.status));
	return body;
}

function showError(e) {
	const p = $("error");
	if (e instanceof AuthNeeded || !e) { p.hidden = true; return; }
	p.textContent = "Could not load: " + e.message;
	p.hidden = false;
}

function fmtPct(v) { return v === null || v === undefined ? "—" : v.toFixed(v >= 99.995 || v === 0 ? 0 : 2) + "%"; }
function fmtMs(v) { return v === null || v === undefined ? "—" : v < 1 ? v.toFixed(2) + " ms" : v < 10 ? v.toFixed(1) + " ms" : Math.round(v) + " ms"; }
function fmtTime(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "—"; }
function fmtDur(ms) {
	if (ms === null || ms === undefined) return "—";
	const s = Math.round(ms / 1000);
	if (s < 60) return s + " s";
	if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
	if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
	return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}
function fmtAgo(ms) { return ms ? fmtDur(Date.now() - ms) + " ago" : "—"; }

function badge(state) { return el("span", state, { class: "badge s-" + state }); }
/* The state, and "critical" beside it when a degraded check is past a critical threshold. */
function stateBadge(c) {
	const crit = c.state === "degraded" && c.severity === "critical";
	return el("span", crit ? "degraded · critical" : c.state, { class: "badge s-" + (crit ? "critical" : c.state) });
}
/* A maintenance window under way: notifications held back, results left out of uptime. */
function maintText(m) { return "maintenance until " + fmtTime(m.until_ms); }
function maintBadge(m) { return el("span", maintText(m), { class: "badge s-maint", title: "window " + m.window + ": notifications held back, left out of uptime" }); }
/* Findings that leave the state as it is (posture: report); shown, never hidden. */
function warningsText(last) {
	return last && last.warnings && last.warnings.length ? "warning: " + last.warnings.join("; ") : "";
}

function certCell(days) {
	const td = el("td", days === null || days === undefined ? "—" : days, { class: "num" });
	if (days !== null && days !== undefined) td.classList.add(days < 7 ? "crit" : days < 21 ? "warn" : "ok");
	return td;
}

function stamp() { $("updated").textContent = "updated " + new Date().toLocaleTimeString(); }

/* ---- overview ---- */

const STATE_ORDER = { down: 0, degraded: 1, pending: 2, up: 3 };
let overviewRows = [], sortKey = "state", sortDir = 1;

function rowOf(c) {
	const l = c.last || {};
	return {
		c, name: c.name, state: c.state, reason: c.reason,
		ttg: l.time_to_greeting_ms, u24: c.uptime_pct["24h"], u7: c.uptime_pct["7d"],
		u30: c.uptime_pct["30d"], cert: l.cert_days_left, loc: (c.locations || []).length,
		last: l.ts_ms,
	};
}

function compare(a, b) {
	let x = a[sortKey], y = b[sortKey];
	if (sortKey === "state") { x = STATE_ORDER[x]; y = STATE_ORDER[y]; }
	if (x === y) return a.name < b.name ? -1 : 1;
	if (x === null || x === undefined) return 1;
	if (y === null || y === undefined) return -1;
	return (x < y ? -1 : 1) * sortDir;
}

function matches(r, f) {
	if (!f) return true;
	f = f.toLowerCase();
	return r.name.toLowerCase().includes(f) || r.c.labels.some(l => l.toLowerCase().includes(f));
}

function renderOverview() {
	const tb = $("checks").tBodies[0], f = $("filter").value.trim();
	clear(tb);
	const rows = overviewRows.filter(r => matches(r, f)).sort(compare);
	for (const r of rows) {
		const c = r.c, tr = el("tr");
		tr.dataset.check = c.name;
		const name = el("td", null, { class: "name" });
		name.appendChild(el("a", c.name, { href: "/check/" + encodeURIComponent(c.name) }));
		for (const l of c.labels) { name.appendChild(document.createTextNode(" ")); name.appendChild(el("span", l, { class: "label" })); }
		tr.appendChild(name);
		const st = el("td"); st.appendChild(stateBadge(c)); tr.appendChild(st);
		/* The locations disagree (partial) or too few count (unknown): said beside the state, which stands. */
		if (c.verdict && c.verdict !== c.state && c.verdict !== "pending") { st.appendChild(document.createTextNode(" ")); st.appendChild(verdictBadge(c)); }
		if (c.maintenance) { st.appendChild(document.createTextNode(" ")); st.appendChild(maintBadge(c.maintenance)); }
		const why = el("td", c.state === "up" ? "" : c.reason + (c.message ? ": " + c.message : ""));
		const w = warningsText(c.last);
		if (w) { if (why.textContent) why.appendChild(el("br")); why.appendChild(el("span", w, { class: "warn" })); }
		tr.appendChild(why);
		tr.appendChild(el("td", fmtMs(r.ttg), { class: "num" }));
		tr.appendChild(el("td", fmtPct(r.u24), { class: "num" }));
		tr.appendChild(el("td", fmtPct(r.u7), { class: "num" }));
		tr.appendChild(el("td", fmtPct(r.u30), { class: "num" }));
		tr.appendChild(certCell(r.cert));
		const loc = el("td");
		for (const l of c.locations || []) { loc.appendChild(document.createTextNode(l.location + " ")); loc.appendChild(badge(l.state)); }
		tr.appendChild(loc);
		tr.appendChild(el("td", fmtAgo(r.last)));
		tb.appendChild(tr);
	}
	const n = { up: 0, degraded: 0, down: 0, pending: 0 };
	for (const r of overviewRows) n[r.state] = (n[r.state] || 0) + 1;
	const nm = overviewRows.filter(r => r.c.maintenance).length;
	$("summary").textContent = overviewRows.length + " checks: " + n.up + " up, " + n.degraded + " degraded, " + n.down + " down" + (n.pending ? ", " + n.pending + " pending" : "") + (nm ? "; " + nm + " in maintenance" : "");
	for (const th of $("checks").tHead.rows[0].cells) {
		th.classList.toggle("asc", th.dataset.key === sortKey && sortDir > 0);
		th.classList.toggle("desc", th.dataset.key === sortKey && sortDir < 0);
	}
}

async function loadOverview() {
	try {
		const d = await api("/api/v1/checks");
		overviewRows = d.checks.map(rowOf);
		renderOverview();
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

function initOverview() {
	for (const th of $("checks").tHead.rows[0].cells)
		th.addEventListener("click", () => {
			if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
			renderOverview();
		});
	const params = new URLSearchParams(location.search);
	if (params.get("filter")) $("filter").value = params.get("filter");
	$("filter").addEventListener("input", renderOverview);
	loadOverview();
	setInterval(loadOverview, 10000);
}

/* ---- locations: the check × location grid ---- */

/*
 * Columns: this daemon's location, every configured node (in the
 * configuration's order), then any other location a check names or has
 * results from (a node removed since). Each node's column head carries the
 * node's state. O(checks × locations).
 */
function gridColumns(d, nodes) {
	const cols = [], seen = new Map();
	const add = (name, kind, node) => { if (!seen.has(name)) { seen.set(name, cols.length); cols.push({ name, kind, node }); } };
	add(d.location, "local", null);
	for (const n of nodes) add(n.name, "node", n);
	for (const c of d.checks) for (const l of c.locations || []) add(l.location, l.kind || "other", null);
	return cols;
}

/* A cell's tooltip: the last result's message and time, and why it does not count. */
function cellTitle(l) {
	const t = [];
	t.push(l.location + ": " + l.state + (l.since ? " since " + l.since.replace("T", " ") : ""));
	t.push(l.message ? l.message : "no result since the controller started");
	if (l.last_time_ms) t.push("last result " + fmtTime(l.last_time_ms) + " (" + fmtAgo(l.last_time_ms) + ")");
	if (l.counts === false) t.push("not counted in the verdict: " + (l.not_counted || "not healthy"));
	return t.join("\n");
}

/* One location of one check: its state, the reason when not up, time to greeting. */
function gridCell(l) {
	const td = el("td", null, { class: "cell", "data-location": l.location, "data-state": l.state, title: cellTitle(l) });
	td.appendChild(badge(l.state));
	if (l.state !== "up" && l.state !== "pending" && l.reason && l.reason !== "ok")
		td.appendChild(el("span", l.reason, { class: "reason" }));
	if (l.time_to_greeting_ms !== null && l.time_to_greeting_ms !== undefined)
		td.appendChild(el("span", fmtMs(l.time_to_greeting_ms), { class: "ttg" }));
	/* The OOM fallback of the API has no counts: shown as counted, as the verdict is then the state. */
	if (l.counts === false) {
		td.classList.add("nocount");
		td.dataset.counts = "false";
		td.appendChild(el("span", "not counted: " + (l.not_counted || "not healthy"), { class: "why" }));
	}
	return td;
}

function verdictBadge(c) {
	const v = c.verdict || c.state;
	return el("span", v, { class: "badge s-" + v, title: "verdict over " + (c.locations || []).length + " location(s), quorum " + c.quorum });
}

let gridData = null;

function renderGrid() {
	if (!gridData) return;
	const { d, nodes } = gridData, cols = gridColumns(d, nodes), f = $("filter").value.trim();
	const head = $("locgrid").tHead.rows[0];
	while (head.cells.length > 2) head.deleteCell(2);
	for (const col of cols) {
		const th = el("th", null, { "data-location": col.name, class: "loc" });
		th.appendChild(el("span", col.name));
		if (col.node) {
			th.appendChild(document.createTextNode(" "));
			th.appendChild(el("span", col.node.state, { class: "badge s-" + col.node.state }));
			th.title = "node " + col.name + (col.node.region ? " (" + col.node.region + ")" : "") + ": " + col.node.state + (col.node.why ? ": " + col.node.why : "");
		} else {
			th.title = col.kind === "local" ? "this daemon's own location" : "not a configured node";
		}
		head.appendChild(th);
	}
	const tb = $("locgrid").tBodies[0];
	clear(tb);
	const counts = {};
	for (const c of d.checks) {
		const v = c.verdict || c.state;
		counts[v] = (counts[v] || 0) + 1;
		if (!matches({ name: c.name, c }, f)) continue;
		const tr = el("tr");
		tr.dataset.check = c.name;
		const name = el("td", null, { class: "name" });
		name.appendChild(el("a", c.name, { href: "/check/" + encodeURIComponent(c.name) }));
		tr.appendChild(name);
		const vt = el("td");
		vt.appendChild(verdictBadge(c));
		const nl = (c.locations || []).length;
		if (nl > 1) vt.appendChild(el("span", " quorum " + c.quorum + " of " + nl, { class: "muted" }));
		tr.appendChild(vt);
		const at = new Map((c.locations || []).map(l => [l.location, l]));
		for (const col of cols) {
			const l = at.get(col.name);
			tr.appendChild(l ? gridCell(l) : el("td", "—", { class: "cell na", "data-location": col.name, title: c.name + " is not probed from " + col.name }));
		}
		tb.appendChild(tr);
	}
	if (!tb.rows.length) { const tr = el("tr"); tr.appendChild(el("td", "no checks", { colspan: cols.length + 2, class: "muted" })); tb.appendChild(tr); }
	const order = ["down", "partial", "degraded", "unknown", "pending", "up"];
	$("summary").textContent = d.checks.length + " checks × " + cols.length + " locations: " +
		order.filter(v => counts[v]).map(v => counts[v] + " " + v).join(", ");
}

async function loadGrid() {
	try {
		const [d, n] = await Promise.all([api("/api/v1/checks"), api("/api/v1/nodes")]);
		gridData = { d, nodes: n.nodes || [] };
		renderGrid();
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

function initGrid() {
	const params = new URLSearchParams(location.search);
	if (params.get("filter")) $("filter").value = params.get("filter");
	$("filter").addEventListener("input", renderGrid);
	loadGrid();
	setInterval(loadGrid, 10000);
}

/* ---- nodes ---- */

function fmtSkew(ms) { return ms === null || ms === undefined ? "—" : (ms > 0 ? "+" : "") + (Math.abs(ms) < 10000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s"); }

function nodeRow(n, skewMax) {
	const tr = el("tr");
	tr.dataset.node = n.name;
	const name = el("td", null, { class: "name" });
	name.appendChild(el("span", n.name));
	if (n.region) name.appendChild(el("span", n.region, { class: "label" }));
	tr.appendChild(name);
	const st = el("td", null, { class: "state" });
	st.appendChild(el("span", n.state, { class: "badge s-" + n.state }));
	if (n.why) st.appendChild(el("span", n.why, { class: "why" }));
	if (n.since) st.title = n.state + " since " + n.since.replace("T", " ");
	tr.appendChild(st);
	tr.appendChild(el("td", fmtAgo(n.last_heartbeat_ms), { class: "heartbeat", title: fmtTime(n.last_heartbeat_ms) }));
	tr.appendChild(el("td", n.version || "—", { class: "version", title: n.started ? "started " + n.started.replace("T", " ") : "" }));
	const sk = el("td", fmtSkew(n.clock_skew_ms), { class: "num skew" });
	if (n.clock_skew_flagged) {
		sk.classList.add("crit");
		sk.dataset.flagged = "true";
		sk.title = "over the bound of " + fmtSkew(skewMax) + ": this node's times in history are off by that much";
		sk.appendChild(el("span", "over " + fmtSkew(skewMax), { class: "why" }));
	}
	tr.appendChild(sk);
	const sp = n.spool || {}, spc = el("td", null, { class: "num spool" });
	if (sp.depth === null || sp.depth === undefined) spc.textContent = "—";
	else {
		spc.appendChild(el("span", sp.depth + " / " + sp.max, { class: "depth" }));
		if (sp.dropped) spc.appendChild(el("span", sp.dropped + " dropped", { class: "why crit" }));
		if (sp.oldest) spc.appendChild(el("span", "oldest " + fmtAgo(Date.parse(sp.oldest)), { class: "why", title: sp.oldest }));
	}
	tr.appendChild(spc);
	const cn = el("td", null, { class: "canaries" });
	for (const k of n.canaries || []) {
		const b = el("span", k.target === "controller" ? "controller" : k.target, { class: "badge s-" + k.status, title: k.status + " (" + k.reason + ")" +
			(k.message ? ": " + k.message : "") + (k.time ? ", " + k.time.replace("T", " ") : "") + (k.failing ? "; " + k.failing + " failed in a row" : "") });
		cn.appendChild(b);
		cn.appendChild(document.createTextNode(" "));
	}
	if (!cn.firstChild) cn.textContent = "—";
	tr.appendChild(cn);
	tr.appendChild(el("td", (n.checks_running === null || n.checks_running === undefined ? "—" : n.checks_running) + " / " + n.checks_assigned, { class: "num checks", title: "running / assigned" }));
	const r = n.results || {}, rc = el("td", null, { class: "num results" });
	rc.appendChild(el("span", r.accepted + " accepted", { class: "accepted" }));
	const extra = [["late", r.late], ["duplicate", r.duplicate], ["refused", r.refused]].filter(([, v]) => v).map(([k, v]) => v + " " + k);
	if (extra.length) rc.appendChild(el("span", extra.join(", "), { class: "why" + (r.refused ? " warn" : "") }));
	rc.title = r.batches + " batches; accepted " + r.accepted + ", late " + r.late + ", duplicate " + r.duplicate + ", refused " + r.refused;
	tr.appendChild(rc);
	tr.appendChild(el("td", r.last_batch ? fmtAgo(Date.parse(r.last_batch)) : "—", { title: r.last_batch || "" }));
	return tr;
}

async function loadNodes() {
	try {
		const d = await api("/api/v1/nodes"), tb = $("nodes").tBodies[0];
		clear(tb);
		for (const n of d.nodes) tb.appendChild(nodeRow(n, d.clock_skew_max_ms));
		if (!d.nodes.length) { const tr = el("tr"); tr.appendChild(el("td", "no probing nodes are configured (nodes: in the configuration)", { colspan: 10, class: "muted" })); tb.appendChild(tr); }
		const c = {};
		for (const n of d.nodes) c[n.state] = (c[n.state] || 0) + 1;
		$("summary").textContent = d.nodes.length + " nodes" + (d.nodes.length ? ": " + ["ok", "impaired", "lost", "pending"].filter(s => c[s]).map(s => c[s] + " " + s).join(", ") : "");
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

/* ---- check page ---- */

function checkName() { return decodeURIComponent(location.pathname.replace(/^\/check\//, "").replace(/\/$/, "")); }

/*
 * The response-time chart. Short ranges draw raw results: one stacked bar
 * per probe with every phase it went through. Long ranges (7 and 30 days)
 * draw buckets from /series (hourly roll-ups plus the raw hours not yet
 * rolled up): roll-ups keep the time to greeting and failure counts, not
 * the phases, so those views show average and p95 time to greeting. Either
 * way a failed probe (or a bucket holding one) is a red band at its time,
 * with the reason in its title. Times are UTC, as everywhere on the page.
 */
const CHART_H = 260, CHART_L = 64, CHART_R = 12, CHART_T = 12, CHART_B = 28;
const TIME_STEPS = [1, 2, 5, 10, 15, 30].map(m => m * 60000)
	.concat([1, 2, 3, 6, 12].map(h => h * 3600000), [1, 2, 7, 14].map(d => d * 86400000));

/* An even step of 1, 2 or 5 × 10^k that splits [0, max] into at most n parts. */
function niceStep(max, n) {
	const raw = max / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
	for (const m of [1, 2, 5]) if (m * p >= raw - 1e-12) return m * p;
	return 10 * p;
}

/* Y ticks from 0 to the first step at or above max: [0, s, 2s, ...]. */
function yTicks(max) {
	const step = niceStep(max > 0 ? max : 1, 5), n = Math.max(1, Math.ceil(max / step - 1e-9)), t = [];
	for (let i = 0; i <= n; i++) t.push(Number((i * step).toPrecision(12)));
	return t;
}

/* X ticks at whole multiples (UTC) of the first round step giving at most n of them. */
function xTicks(from, to, n) {
	const step = TIME_STEPS.find(s => (to - from) / s <= n) || TIME_STEPS[TIME_STEPS.length - 1], t = [];
	for (let v = Math.ceil(from / step) * step; v <= to; v += step) t.push(v);
	return { step, ticks: t };
}

/* A Y tick with as many decimals as its step needs: "0", "5 ms", "0.2 ms", "1.5 s". */
function fmtTick(v, step) {
	if (v === 0) return "0";
	if (step >= 1000) return Number((v / 1000).toPrecision(12)) + " s";
	return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9))) + " ms";
}

function tickLabel(t, step, first) {
	const iso = new Date(t).toISOString();
	if (step >= 86400000) return iso.slice(5, 10);
	return first || iso.slice(11, 16) === "00:00" ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
}

/* The empty chart: axes, grid and ticks for [from, to] x [0, max]; returns its scales. */
function chartFrame(s, W, from, to, max) {
	const yt = yTicks(max), top = yt[yt.length - 1];
	const x = t => CHART_L + (W - CHART_L - CHART_R) * (t - from) / (to - from);
	const y = v => CHART_H - CHART_B - (CHART_H - CHART_B - CHART_T) * Math.min(v, top) / top;
	for (const v of yt) {
		s.appendChild(svg("line", { x1: CHART_L, x2: W - CHART_R, y1: y(v), y2: y(v), stroke: "#e6e9ef" }));
		s.appendChild(svg("text", { x: CHART_L - 6, y: y(v) + 4, "text-anchor": "end", class: "ytick", "data-v": v }, fmtTick(v, yt[1])));
	}
	const xt = xTicks(from, to, 8);
	xt.ticks.forEach((t, i) => {
		s.appendChild(svg("line", { x1: x(t), x2: x(t), y1: CHART_T, y2: CHART_H - CHART_B + 4, stroke: "#eef0f4" }));
		s.appendChild(svg("text", { x: x(t), y: CHART_H - 8, "text-anchor": "middle", class: "xtick", "data-t": t }, tickLabel(t, xt.step, i === 0)));
	});
	s.appendChild(svg("text", { x: 4, y: CHART_H - 8 }, "UTC"));
	return { x, y, top };
}

function chartSvg(box, mode) {
	clear(box);
	const W = Math.max(320, Math.round(box.clientWidth || 1000));
	const s = svg("svg", { viewBox: "0 0 " + W + " " + CHART_H, width: W, height: CHART_H, role: "img", "aria-label": "response time", "data-mode": mode });
	return { s, W };
}

/*
 * A red band over the plot at [x0, x0 + w], drawn over the bars so that
 * none hides it, with a solid mark under the axis; titled.
 */
function failBand(s, x0, w, ts, title, strength) {
	const g = svg("g", { class: "fail", "data-ts": ts });
	g.appendChild(svg("title", {}, title));
	g.appendChild(svg("rect", { x: x0, y: CHART_T, width: w, height: CHART_H - CHART_B - CHART_T, fill: FAIL_COLOR, "fill-opacity": strength }));
	g.appendChild(svg("rect", { x: x0, y: CHART_H - CHART_B + 1, width: w, height: 5, fill: FAIL_COLOR }));
	s.appendChild(g);
}

function legend(items, note) {
	const lg = $("legend"); clear(lg);
	for (const [name, color] of items) {
		const sp = el("span"), i = el("i");
		i.style.background = color;
		sp.appendChild(i); sp.appendChild(document.createTextNode(name));
		lg.appendChild(sp);
	}
	lg.appendChild(el("p", note, { class: "muted", id: "chart-note" }));
}

function fmtBucket(ms) { return ms % 86400000 === 0 ? ms / 86400000 + " d" : ms / 3600000 + " h"; }

function failed(r) { return r.status === "down" || r.status === "unknown"; }

/*
 * Per-location series for a check probed from several locations. The
 * store's /series has no location, so they come from raw results (which
 * carry it), at most the API's limit of them, newest first: with a bucket,
 * the average time to greeting of each location's good probes per bucket;
 * without, each probe's. Map location -> [[t, ms or null], ...] oldest
 * first; null (a failed probe, a bucket of failures only) breaks the line.
 */
const LOC_COLORS = ["#2b6cb0", "#805ad5", "#d53f8c", "#2f855a", "#b7791f", "#00838f", "#4a5568", "#c05621"];

function locPoints(results, bucketMs) {
	const by = new Map(), out = new Map();
	for (const r of results) {
		if (!r.location) continue;
		if (!by.has(r.location)) by.set(r.location, []);
		by.get(r.location).push(r);
	}
	for (const [loc, rs] of by) {
		rs.sort((a, b) => a.ts_ms - b.ts_ms);
		const ttg = r => failed(r) || r.time_to_greeting_ms === null || r.time_to_greeting_ms === undefined ? null : r.time_to_greeting_ms;
		if (!bucketMs) { out.set(loc, rs.map(r => [r.ts_ms, ttg(r)])); continue; }
		const acc = new Map();
		for (const r of rs) {
			const b = Math.floor(r.ts_ms / bucketMs) * bucketMs, v = ttg(r);
			if (!acc.has(b)) acc.set(b, { n: 0, sum: 0 });
			if (v !== null) { acc.get(b).n++; acc.get(b).sum += v; }
		}
		out.set(loc, [...acc].sort((a, b) => a[0] - b[0]).map(([b, a]) => [b + bucketMs / 2, a.n ? a.sum / a.n : null]));
	}
	return out;
}

/* The colour of each location: the check's order first, then any other seen. */
function locColors(names, pts) {
	const m = new Map();
	for (const n of names.concat([...pts.keys()])) if (!m.has(n)) m.set(n, LOC_COLORS[m.size % LOC_COLORS.length]);
	return m;
}

/* One line per location over the chart; a gap over a failure, or (gapMs) a jump in time. */
function drawLocLines(s, x, y, lv, gapMs) {
	for (const [loc, pts] of lv.pts) {
		if (lv.only && loc !== lv.only) continue;
		let d = "", prev = null;
		for (const [t, v] of pts) {
			if (v === null) { prev = null; continue; }
			d += (prev !== null && (!gapMs || t - prev <= gapMs) ? " L" : " M") + x(t).toFixed(1) + " " + y(v).toFixed(1);
			prev = t;
		}
		if (!d) continue;
		const path = svg("path", { d: d.trim(), fill: "none", stroke: lv.colors.get(loc), "stroke-width": 1.5, class: "locline", "data-location": loc });
		path.appendChild(svg("title", {}, loc + ": time to greeting"));
		s.appendChild(path);
	}
}

function locLegend(lv) {
	return [...lv.colors].filter(([l]) => lv.pts.has(l) && (!lv.only || l === lv.only)).map(([l, c]) => [l + " (time to greeting)", c]);
}

/* Raw results: every phase of each probe stacked; failed probes as red bands. lv: per-location lines, or null. */
function drawChart(results, from, to, lv) {
	const { s, W } = chartSvg($("chart"), "raw");
	let max = 0;
	for (const r of results) {
		r._sum = 0;
		for (const p of PHASES) r._sum += (r.timings_ms && r.timings_ms[p]) || 0;
		if (!failed(r) && r._sum > max) max = r._sum;
	}
	const { x, y } = chartFrame(s, W, from, to, max);
	const bw = Math.max(1, Math.min(8, (W - CHART_L - CHART_R) / Math.max(results.length, 1) * 0.7));
	for (const r of results) {
		if (failed(r)) continue;
		const cx = x(r.ts_ms) - bw / 2;
		let acc = 0;
		for (const p of PHASES) {
			const v = (r.timings_ms && r.timings_ms[p]) || 0;
			if (v <= 0) continue;
			const rect = svg("rect", { x: cx, y: y(acc + v), width: bw, height: Math.max(0.5, y(acc) - y(acc + v)), fill: PHASE_COLORS[p], "data-phase": p });
			rect.appendChild(svg("title", {}, fmtTime(r.ts_ms) + " " + p + " " + fmtMs(v) + " of " + fmtMs(r._sum)));
			s.appendChild(rect);
			acc += v;
		}
	}
	for (const r of results) {
		if (!failed(r)) continue;
		const fw = Math.max(bw, 3);
		failBand(s, x(r.ts_ms) - fw / 2, fw, r.ts_ms, fmtTime(r.ts_ms) + (lv && r.location ? " from " + r.location : "") + " " + r.status + ": " + r.reason +
			(r.message ? " (" + r.message + ")" : "") + ", after " + fmtMs(r.timings_ms && r.timings_ms.total), 0.35);
	}
	if (lv) drawLocLines(s, x, y, lv, 0);
	if (!results.length) s.appendChild(svg("text", { x: W / 2, y: CHART_H / 2, "text-anchor": "middle" }, "no results in this range"));
	$("chart").appendChild(s);
	legend(PHASES.map(p => [p, PHASE_COLORS[p]]).concat([["failed probe", FAIL_COLOR]], lv ? locLegend(lv) : []),
		"Each bar is one probe, its phases stacked in the order they happen; a red band is a failed probe (hover for the reason)." +
		(lv ? " Each line is one location's time to greeting" + (lv.only ? ", the bars that location's probes alone." : ", the bars every location's probes.") : "") +
		(results.length >= API_LIMIT ? " Only the last " + API_LIMIT + " results are drawn: pick a shorter range for all of them." : ""));
}

/*
 * Buckets of /series: average time to greeting as bars, p95 as a line, red
 * bands where probes failed; lv: per-location lines, or null.
 */
function drawSeries(d, from, to, label, lv) {
	const { s, W } = chartSvg($("chart"), "series");
	const b = d.buckets || [], bms = d.bucket_ms;
	let max = 0;
	for (const k of b) max = Math.max(max, k.p95_ttg_ms || 0, k.avg_ttg_ms || 0);
	for (const [loc, pts] of lv ? lv.pts : []) if (!lv.only || loc === lv.only) for (const [, v] of pts) if (v !== null) max = Math.max(max, v);
	const { x, y } = chartFrame(s, W, from, to, max);
	const span = k => [Math.max(x(k.ts_ms), CHART_L), Math.min(x(k.ts_ms + bms), W - CHART_R)];
	let path = "", prev = null;
	for (const k of b) {
		const [x0, x1] = span(k);
		if (k.avg_ttg_ms !== null) {
			const r = svg("rect", { x: x0 + 0.5, y: y(k.avg_ttg_ms), width: Math.max(1, x1 - x0 - 1), height: Math.max(0.5, y(0) - y(k.avg_ttg_ms)),
				fill: TTG_COLOR, class: "bucket", "data-ts": k.ts_ms });
			r.appendChild(svg("title", {}, fmtTime(k.ts_ms) + " + " + fmtBucket(bms) + ": " + k.count + " probes, time to greeting avg " +
				fmtMs(k.avg_ttg_ms) + ", p95 " + fmtMs(k.p95_ttg_ms) + ", max " + fmtMs(k.max_ttg_ms) + (k.from_rollups ? " (roll-ups)" : "")));
			s.appendChild(r);
		}
		if (k.p95_ttg_ms !== null) {
			path += (prev !== null && prev === k.ts_ms - bms ? " L" : " M") + ((x0 + x1) / 2).toFixed(1) + " " + y(k.p95_ttg_ms).toFixed(1);
			prev = k.ts_ms;
		}
	}
	if (path) s.appendChild(svg("path", { d: path.trim(), fill: "none", stroke: P95_COLOR, "stroke-width": 1.5, class: "p95" }));
	for (const k of b) {
		const bad = k.count - k.up_count;
		if (bad <= 0) continue;
		const [x0, x1] = span(k), why = Object.entries(k.reasons || {}).map(([r, n]) => r + " " + n).join(", ");
		failBand(s, x0 + (x1 - x0) / 2 - Math.max(3, x1 - x0) / 2, Math.max(3, x1 - x0), k.ts_ms, fmtTime(k.ts_ms) + " + " + fmtBucket(bms) + ": " + bad + " of " + k.count +
			" probes failed" + (why ? " (" + why + ")" : k.from_rollups ? " (reasons are not kept in roll-ups)" : ""), 0.35 + 0.4 * bad / k.count);
	}
	if (lv) drawLocLines(s, x, y, lv, bms);
	if (!b.length) s.appendChild(svg("text", { x: W / 2, y: CHART_H / 2, "text-anchor": "middle" }, "no results in this range"));
	$("chart").appendChild(s);
	legend([["average time to greeting", TTG_COLOR], ["p95 time to greeting", P95_COLOR], ["failed probes", FAIL_COLOR]].concat(lv ? locLegend(lv) : []),
		label + ": one bar per " + fmtBucket(bms) + ", from the hourly roll-ups, which keep the time to greeting and failures " +
		"but not the other phases (pick 24 hours or less for those). The redder a band, the larger the share of failed probes." +
		(lv ? " Bars and bands are every location's; each line is one location's average time to greeting per " + fmtBucket(bms) +
			", from raw results (roll-ups keep no location)" + (lv.cut ? ", the last " + API_LIMIT + " of them: since " + fmtTime(lv.cut) : "") + "." : ""));
}

function drawBars(days) {
	const b = $("bars"); clear(b);
	for (const d of days) {
		const div = el("div");
		const u = d.uptime_pct;
		const mp = d.maintenance_probes || 0;
		div.className = u === null ? (mp ? "b-maint" : "") : u >= 99.9 ? "b-up" : u >= 95 ? "b-degraded" : "b-down";
		div.title = d.date.slice(0, 10) + ": " + fmtPct(u) + " of " + d.probes + " probes" + (mp ? " (" + mp + " in maintenance, left out)" : "");
		b.appendChild(div);
	}
}

function fillTable(id, rows, cells) {
	const tb = $(id).tBodies[0]; clear(tb);
	for (const r of rows) {
		const tr = el("tr");
		for (const c of cells(r)) tr.appendChild(c instanceof Node ? c : el("td", c));
		tb.appendChild(tr);
	}
	if (!rows.length) { const tr = el("tr"), td = el("td", "none", { colspan: $(id).tHead.rows[0].cells.length, class: "muted" }); tr.appendChild(td); tb.appendChild(tr); }
}

function incidentCells(withCheck) {
	return i => {
		const c = [];
		if (withCheck) { const td = el("td", null, { class: "name" }); td.appendChild(el("a", i.check, { href: "/check/" + encodeURIComponent(i.check) })); c.push(td); }
		/* Closed otherwise than by a recovery (the check was removed): say why. */
		const end = i.open ? "open" : fmtTime(i.end_ms) + (i.close_reason && i.close_reason !== "recovered" ? " (" + i.close_reason + ")" : "");
		c.push(fmtTime(i.start_ms), end, el("td", fmtDur(i.duration_ms), { class: "num" }), i.reason, i.message || "");
		return c;
	};
}

async function loadCheck() {
	const name = checkName();
	try {
		const c = await api("/api/v1/checks/" + encodeURIComponent(name));
		document.title = c.name + " · mailpulse";
		$("name").textContent = c.name;
		const sb = stateBadge(c), st = $("state"); st.textContent = sb.textContent; st.className = sb.className;
		$("url").textContent = c.url + (c.labels.length ? "  ·  " + c.labels.join(", ") : "") + "  ·  since " + fmtTime(c.since_ms);
		$("maint").hidden = !c.maintenance;
		$("maint").textContent = c.maintenance ? "In maintenance window " + c.maintenance.window + " until " + fmtTime(c.maintenance.until_ms) + ": notifications are held back (an outage still on at the end is alerted then) and results are left out of uptime." : "";
		$("message").textContent = c.last ? c.last.status + " (" + c.last.reason + ")" + (c.last.message ? ": " + c.last.message : "") + ", " + fmtAgo(c.last.ts_ms) : "no result yet";
		$("warnings").textContent = warningsText(c.last);
		$("greeting").textContent = (c.last && c.last.greeting) || "—";
		$("caps").textContent = c.last && c.last.capabilities.length ? c.last.capabilities.join(", ") : "—";
		const dl = $("cert"); clear(dl);
		const t = c.tls;
		const kv = t ? [["Subject", t.subject], ["SANs", (t.sans || []).join(", ")], ["Issuer", t.issuer], ["Expires", t.not_after],
			["Days left", t.days_left], ["TLS", t.version + " " + (t.cipher || "")], ["Verified", t.verified ? "yes" : "no"],
			["Seen", fmtTime(t.seen_ms) + (t.current ? " (last probe)" : " (" + fmtAgo(t.seen_ms) + "; the last probe got no certificate)")]] : [["TLS", "not used"]];
		for (const [k, v] of kv) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v === null || v === undefined ? "—" : v)); }
		fillTable("incidents", c.incidents || [], incidentCells(false));
		fillTable("deliveries", c.deliveries || [], d => [fmtTime(d.ts_ms), d.channel, d.event, el("td", d.attempt, { class: "num" }), d.ok ? "yes" : "no", d.detail || ""]);
		$("uptimes").textContent = "24 h " + fmtPct(c.uptime_pct["24h"]) + " · 7 d " + fmtPct(c.uptime_pct["7d"]) + " · 30 d " + fmtPct(c.uptime_pct["30d"]);
		checkLocs = (c.locations || []).map(l => l.location);
		fillLocSelect(checkLocs);
		showCheckLocations(c);
		await loadChart(name);
		const u = await api("/api/v1/checks/" + encodeURIComponent(name) + "/uptime?window=30d&by=day");
		drawBars(u.days || []);
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

/* A long range's series is asked again at most once a minute: it changes by the hour. */
let seriesCache = null;

/* The locations of the check shown (its locations[]), for the location select and the lines. */
let checkLocs = [];

/*
 * A check with several locations: its verdict beside its state when they
 * differ, and a row of the grid (one cell per location, as on /locations).
 */
function showCheckLocations(c) {
	const locs = c.locations || [], multi = locs.length > 1, v = $("verdict");
	v.hidden = !c.verdict || c.verdict === c.state || c.verdict === "pending";
	if (!v.hidden) { const b = verdictBadge(c); v.textContent = b.textContent; v.className = b.className; v.title = b.title; }
	$("locsec").hidden = !multi;
	if (!multi) return;
	$("quorum").textContent = "verdict " + (c.verdict || c.state) + ", quorum " + c.quorum + " of " + locs.length;
	const head = $("locs").tHead.rows[0], row = $("locs").tBodies[0].rows[0];
	clear(head); clear(row);
	for (const l of locs) { head.appendChild(el("th", l.location, { class: "loc", "data-location": l.location })); row.appendChild(gridCell(l)); }
}

/* The location select: shown for a check with several locations; ?loc= keeps the choice. */
function fillLocSelect(locs) {
	const sel = $("loc"), want = sel.value || new URLSearchParams(location.search).get("loc") || "";
	sel.hidden = locs.length < 2;
	if ([...sel.options].map(o => o.value).join(",") === [""].concat(locs).join(",")) return;
	clear(sel);
	sel.appendChild(el("option", "all locations", { value: "" }));
	for (const l of locs) sel.appendChild(el("option", l, { value: l }));
	sel.value = locs.includes(want) ? want : "";
}

async function loadChart(name) {
	const key = RANGES[$("range").value] ? $("range").value : "6h", to = Date.now(), from = to - RANGES[key];
	const base = "/api/v1/checks/" + encodeURIComponent(name), multi = checkLocs.length > 1;
	const only = multi && $("loc").value ? $("loc").value : "";
	if (!RANGE_BUCKETS[key]) {
		const h = await api(base + "/results?from=" + from + "&limit=" + API_LIMIT);
		const pts = multi ? locPoints(h.results, 0) : null;
		drawChart(only ? h.results.filter(r => r.location === only) : h.results, from, to,
			multi ? { pts, colors: locColors(checkLocs, pts), only } : null);
		return;
	}
	if (!seriesCache || seriesCache.key !== key || seriesCache.multi !== multi || to - seriesCache.at > 60000) {
		const data = await api(base + "/series?from=" + from + "&to=" + to + "&bucket=" + RANGE_BUCKETS[key]);
		let raw = null;
		if (multi) raw = (await api(base + "/results?from=" + from + "&limit=" + API_LIMIT)).results;
		seriesCache = { key, at: to, multi, data, raw };
	}
	let lv = null;
	if (seriesCache.raw) {
		const bms = seriesCache.data.bucket_ms || 3600000, pts = locPoints(seriesCache.raw, bms), raw = seriesCache.raw;
		lv = { pts, colors: locColors(checkLocs, pts), only, cut: raw.length >= API_LIMIT ? Math.min(...raw.map(r => r.ts_ms)) : 0 };
	}
	drawSeries(seriesCache.data, from, to, $("range").selectedOptions[0].textContent, lv);
}

function initCheck() {
	const want = new URLSearchParams(location.search).get("range");
	if (want && RANGES[want]) $("range").value = want;
	$("range").addEventListener("change", () => {
		const u = new URL(location.href);
		u.searchParams.set("range", $("range").value);
		history.replaceState(null, "", u);
		loadCheck();
	});
	$("loc").addEventListener("change", () => {
		const u = new URL(location.href);
		if ($("loc").value) u.searchParams.set("loc", $("loc").value); else u.searchParams.delete("loc");
		history.replaceState(null, "", u);
		loadCheck();
	});
	$("run").addEventListener("click", async () => {
		try { await api("/api/v1/checks/" + encodeURIComponent(checkName()) + "/run", { method: "POST" }); setTimeout(loadCheck, 1500); }
		catch (e) { showError(e); }
	});
	loadCheck();
	setInterval(loadCheck, 10000);
}

/* ---- incidents and certificates ---- */

async function loadIncidents() {
	try {
		const d = await api("/api/v1/incidents?limit=500");
		fillTable("incidents", d.incidents, incidentCells(true));
		stamp(); showError(null);
	} catch (e) { showError(e); }
}

async function loadCerts() {
	try {
		const d = await api("/api/v1/checks");
		const rows = d.checks.filter(c => c.last && c.last.cert_days_left !== null).sort((a, b) => a.last.cert_days_left - b.last.cert_days_left);
		fillTable("certs", rows, c => {
			const td = el("td", null, { class: "name" });
			td.appendChild(el("a", c.name, { href: "/check/" + encodeURIComponent(c.name) }));
			return [certCell(c.last.cert_days_left), c.last.cert_not_after || "—", td, c.last.cert_subject || "—", c.last.tls_version || "—"];
		});
		stamp(); showError(null);
	} catch (e) { showError(e); }
}

const PAGES = {
	overview: initOverview,
	check: initCheck,
	incidents: () => { loadIncidents(); setInterval(loadIncidents, 30000); },
	certificates: () => { loadCerts(); setInterval(loadCerts, 60000); },
	locations: initGrid,
	nodes: () => { loadNodes(); setInterval(loadNodes, 10000); },
};

document.addEventListener("DOMContentLoaded", () => {
	$("auth").addEventListener("submit", ev => {
		ev.preventDefault();
		localStorage.setItem(TOKEN_KEY, $("token").value.trim());
		$("auth").hidden = true;
		location.reload();
	});
	(PAGES[document.body.dataset.page] || (() => {}))();
});
