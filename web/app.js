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

/* Raw results: every phase of each probe stacked; failed probes as red bands. */
function drawChart(results, from, to) {
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
		failBand(s, x(r.ts_ms) - fw / 2, fw, r.ts_ms, fmtTime(r.ts_ms) + " " + r.status + ": " + r.reason +
			(r.message ? " (" + r.message + ")" : "") + ", after " + fmtMs(r.timings_ms && r.timings_ms.total), 0.35);
	}
	if (!results.length) s.appendChild(svg("text", { x: W / 2, y: CHART_H / 2, "text-anchor": "middle" }, "no results in this range"));
	$("chart").appendChild(s);
	legend(PHASES.map(p => [p, PHASE_COLORS[p]]).concat([["failed probe", FAIL_COLOR]]),
		"Each bar is one probe, its phases stacked in the order they happen; a red band is a failed probe (hover for the reason).");
}

/* Buckets of /series: average time to greeting as bars, p95 as a line, red bands where probes failed. */
function drawSeries(d, from, to, label) {
	const { s, W } = chartSvg($("chart"), "series");
	const b = d.buckets || [], bms = d.bucket_ms;
	let max = 0;
	for (const k of b) max = Math.max(max, k.p95_ttg_ms || 0, k.avg_ttg_ms || 0);
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
	if (!b.length) s.appendChild(svg("text", { x: W / 2, y: CHART_H / 2, "text-anchor": "middle" }, "no results in this range"));
	$("chart").appendChild(s);
	legend([["average time to greeting", TTG_COLOR], ["p95 time to greeting", P95_COLOR], ["failed probes", FAIL_COLOR]],
		label + ": one bar per " + fmtBucket(bms) + ", from the hourly roll-ups, which keep the time to greeting and failures " +
		"but not the other phases (pick 24 hours or less for those). The redder a band, the larger the share of failed probes.");
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
		await loadChart(name);
		const u = await api("/api/v1/checks/" + encodeURIComponent(name) + "/uptime?window=30d&by=day");
		drawBars(u.days || []);
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

/* A long range's series is asked again at most once a minute: it changes by the hour. */
let seriesCache = null;

async function loadChart(name) {
	const key = RANGES[$("range").value] ? $("range").value : "6h", to = Date.now(), from = to - RANGES[key];
	const base = "/api/v1/checks/" + encodeURIComponent(name);
	if (!RANGE_BUCKETS[key]) {
		const h = await api(base + "/results?from=" + from + "&limit=10000");
		drawChart(h.results, from, to);
		return;
	}
	if (!seriesCache || seriesCache.key !== key || to - seriesCache.at > 60000)
		seriesCache = { key, at: to, data: await api(base + "/series?from=" + from + "&to=" + to + "&bucket=" + RANGE_BUCKETS[key]) };
	drawSeries(seriesCache.data, from, to, $("range").selectedOptions[0].textContent);
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
