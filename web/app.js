/*
 * mailpulse dashboard: fills the pages from the JSON API. Every value from
 * the server goes into the page through textContent or an SVG attribute,
 * never through innerHTML: greetings, messages and certificate names are
 * chosen by the monitored servers.
 */
"use strict";

const TOKEN_KEY = "mailpulse.token";
const PHASES = ["dns", "connect", "tls", "greeting"];
const PHASE_COLORS = { dns: "#8e7cc3", connect: "#4a90d9", tls: "#2bb3a3", greeting: "#e8833a" };
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
		const st = el("td"); st.appendChild(badge(c.state)); tr.appendChild(st);
		tr.appendChild(el("td", c.state === "up" ? "" : c.reason + (c.message ? ": " + c.message : "")));
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
	$("summary").textContent = overviewRows.length + " checks: " + n.up + " up, " + n.degraded + " degraded, " + n.down + " down" + (n.pending ? ", " + n.pending + " pending" : "");
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

/* Stacked bars of the phases per result, failures as red marks on the axis. */
function drawChart(results, from, to) {
	const box = $("chart"); clear(box);
	const W = 1000, H = 260, L = 56, R = 10, T = 10, B = 28;
	const s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": "response time" });
	let max = 1;
	for (const r of results) {
		let sum = 0;
		for (const p of PHASES) sum += (r.timings_ms && r.timings_ms[p]) || 0;
		r._sum = sum;
		if (sum > max) max = sum;
	}
	max = niceMax(max);
	const x = t => L + (W - L - R) * (t - from) / (to - from), y = v => H - B - (H - B - T) * v / max;
	for (let i = 0; i <= 4; i++) {
		const v = max * i / 4;
		s.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e6e9ef" }));
		s.appendChild(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmtMs(v)));
	}
	for (let i = 0; i <= 4; i++) {
		const t = from + (to - from) * i / 4;
		s.appendChild(svg("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, fmtTime(t).slice(5, 16)));
	}
	const bw = Math.max(1, Math.min(8, (W - L - R) / Math.max(results.length, 1) * 0.7));
	for (const r of results) {
		const cx = x(r.ts_ms) - bw / 2;
		let acc = 0;
		if (r.status === "down" || r.status === "unknown") {
			const m = svg("rect", { x: cx, y: H - B - 6, width: bw, height: 6, fill: "#d64545" });
			m.appendChild(svg("title", {}, fmtTime(r.ts_ms) + " " + r.status + ": " + r.reason));
			s.appendChild(m);
			continue;
		}
		for (const p of PHASES) {
			const v = (r.timings_ms && r.timings_ms[p]) || 0;
			if (v <= 0) continue;
			const rect = svg("rect", { x: cx, y: y(acc + v), width: bw, height: Math.max(0.5, y(acc) - y(acc + v)), fill: PHASE_COLORS[p] });
			rect.appendChild(svg("title", {}, fmtTime(r.ts_ms) + " " + p + " " + fmtMs(v)));
			s.appendChild(rect);
			acc += v;
		}
	}
	if (!results.length) s.appendChild(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no results in this range"));
	box.appendChild(s);
	const lg = $("legend"); clear(lg);
	for (const p of PHASES.concat(["failed"])) {
		const sp = el("span"), i = el("i");
		i.style.background = PHASE_COLORS[p] || "#d64545";
		sp.appendChild(i); sp.appendChild(document.createTextNode(p));
		lg.appendChild(sp);
	}
}

function niceMax(v) {
	const p = Math.pow(10, Math.floor(Math.log10(v)));
	for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
	return 10 * p;
}

function drawBars(days) {
	const b = $("bars"); clear(b);
	for (const d of days) {
		const div = el("div");
		const u = d.uptime_pct;
		div.className = u === null ? "" : u >= 99.9 ? "b-up" : u >= 95 ? "b-degraded" : "b-down";
		div.title = d.date.slice(0, 10) + ": " + fmtPct(u) + " of " + d.probes + " probes";
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
		c.push(fmtTime(i.start_ms), i.open ? "open" : fmtTime(i.end_ms), el("td", fmtDur(i.duration_ms), { class: "num" }), i.reason, i.message || "");
		return c;
	};
}

async function loadCheck() {
	const name = checkName();
	try {
		const c = await api("/api/v1/checks/" + encodeURIComponent(name));
		document.title = c.name + " · mailpulse";
		$("name").textContent = c.name;
		const st = $("state"); st.textContent = c.state; st.className = "badge s-" + c.state;
		$("url").textContent = c.url + (c.labels.length ? "  ·  " + c.labels.join(", ") : "") + "  ·  since " + fmtTime(c.since_ms);
		$("message").textContent = c.last ? c.last.status + " (" + c.last.reason + ")" + (c.last.message ? ": " + c.last.message : "") + ", " + fmtAgo(c.last.ts_ms) : "no result yet";
		$("greeting").textContent = (c.last && c.last.greeting) || "—";
		$("caps").textContent = c.last && c.last.capabilities.length ? c.last.capabilities.join(" ") : "—";
		const dl = $("cert"); clear(dl);
		const t = c.tls;
		const kv = t ? [["Subject", t.subject], ["SANs", (t.sans || []).join(", ")], ["Issuer", t.issuer], ["Expires", t.not_after],
			["Days left", t.days_left], ["TLS", t.version + " " + (t.cipher || "")], ["Verified", t.verified ? "yes" : "no"]] : [["TLS", "not used"]];
		for (const [k, v] of kv) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v === null || v === undefined ? "—" : v)); }
		fillTable("incidents", c.incidents || [], incidentCells(false));
		fillTable("deliveries", c.deliveries || [], d => [fmtTime(d.ts_ms), d.channel, d.event, el("td", d.attempt, { class: "num" }), d.ok ? "yes" : "no", d.detail || ""]);
		$("uptimes").textContent = "24 h " + fmtPct(c.uptime_pct["24h"]) + " · 7 d " + fmtPct(c.uptime_pct["7d"]) + " · 30 d " + fmtPct(c.uptime_pct["30d"]);
		const range = Number($("range").value), to = Date.now(), from = to - range;
		const h = await api("/api/v1/checks/" + encodeURIComponent(name) + "/results?from=" + from + "&limit=5000");
		drawChart(h.results, from, to);
		const u = await api("/api/v1/checks/" + encodeURIComponent(name) + "/uptime?window=30d&by=day");
		drawBars(u.days || []);
		stamp();
		showError(null);
	} catch (e) { showError(e); }
}

function initCheck() {
	$("range").addEventListener("change", loadCheck);
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
