// The planner page: plain JavaScript over the /v1 JSON routes, no framework.
//
// - The API key lives in sessionStorage (this tab only); requests send it as a Bearer header.
// - The view (store, selection, view rates, posts, filter, measure, search and plan
//   settings) lives in the URL's hash, so a link reproduces it for another key holder.
// - Every number shown comes from a /v1 answer: /v1/reach (figures, overlap, regions,
//   curves; over followers, engaged people or loyal fans by `audience`), /v1/complementary,
//   /v1/creators (search) and .../similar, /v1/plan.
"use strict";

const KEY_SLOT = "kolgraph.key";
const PLAN_CANDIDATES = 200;
const PAGE = 15;
const $ = id => document.getElementById(id);

const state = {
  store: "", ids: [], rates: {}, posts: {}, where: "", xf: false, measure: "counts",
  q: "", tier: "", category: "", platform: "", fmin: "", fmax: "", sort: "followers",
  order: "desc", offset: 0, quality: false, budget: "", objective: "unique", quotas: "",
  maxc: "", audience: "followers",
};
const AUDIENCES = ["followers", "engaged", "loyal"];
const PEOPLE = {followers: "followers", engaged: "engaged people", loyal: "loyal fans"};
const names = {};          // id -> creator row (name, tier, ...) seen in answers
let report = null;          // the last /v1/reach answer
let beside = {};            // audience -> unique reach of the selection (stores with interactions)
let planAnswer = null;      // the last /v1/plan answer
let stores = [];
let reachSeq = 0;

// --- the URL hash -------------------------------------------------------------------------
function writeHash() {
  const p = new URLSearchParams();
  const put = (k, v) => { if (v !== "" && v !== false && v !== null) p.set(k, v); };
  put("store", state.store);
  put("ids", state.ids.join(","));
  put("vr", state.ids.map(id => state.rates[id] ?? "").join(",").replace(/^,+$/, ""));
  put("posts", state.ids.map(id => state.posts[id] ?? "").join(",").replace(/^,+$/, ""));
  put("where", state.where); put("xf", state.xf ? "1" : "");
  put("m", state.measure === "counts" ? "" : state.measure);
  for (const k of ["q", "tier", "category", "platform", "fmin", "fmax"]) put(k, state[k]);
  put("sort", state.sort === "followers" ? "" : state.sort);
  put("order", state.order === "desc" ? "" : state.order);
  put("quality", state.quality ? "1" : "");
  put("budget", state.budget); put("obj", state.objective === "unique" ? "" : state.objective);
  put("quotas", state.quotas); put("maxc", state.maxc);
  put("aud", state.audience === "followers" ? "" : state.audience);
  history.replaceState(null, "", "#" + p.toString());
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const get = (k, d) => p.get(k) ?? d;
  state.store = get("store", "");
  state.ids = get("ids", "").split(",").filter(s => s !== "");
  const vr = get("vr", "").split(","), posts = get("posts", "").split(",");
  state.rates = {}; state.posts = {};
  state.ids.forEach((id, i) => {
    if (vr[i]) state.rates[id] = vr[i];
    if (posts[i]) state.posts[id] = posts[i];
  });
  state.where = get("where", ""); state.xf = get("xf", "") === "1";
  state.measure = get("m", "counts");
  for (const k of ["q", "tier", "category", "platform", "fmin", "fmax"]) state[k] = get(k, "");
  state.sort = get("sort", "followers"); state.order = get("order", "desc");
  state.quality = get("quality", "") === "1";
  state.budget = get("budget", ""); state.objective = get("obj", "unique");
  state.quotas = get("quotas", ""); state.maxc = get("maxc", "");
  state.audience = AUDIENCES.includes(get("aud", "")) ? get("aud", "") : "followers";
}

// --- talking to the API -------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body.message || `HTTP ${status}`);
    this.status = status; this.code = body.error || "error"; this.retryAfter = retryAfter;
  }
}

// One call at a time from this tab: the service caps the calls a key has in flight (one by
// default on a 2-core machine) and answers 429 past it, so a redraw's several calls queue
// here instead. Another tab with the same key can still meet the cap: apiNow waits as told.
let queue = Promise.resolve();
function api(path, body) {
  const run = queue.then(() => apiNow(path, body));
  queue = run.catch(() => {});
  return run;
}

async function apiNow(path, body) {
  const key = sessionStorage.getItem(KEY_SLOT) || "";
  const init = {headers: {Authorization: "Bearer " + key}};
  if (body !== undefined) {
    init.method = "POST"; init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let res;
  // 429 too_many_in_flight (another tab's calls) or rate_limited: wait as told, try again
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, {error: "network", message: "the service cannot be reached: " + e.message});
    }
    if (res.status !== 429 || attempt >= 20) break;
    const wait = Number(res.headers.get("Retry-After") || 1);
    await new Promise((r) => setTimeout(r, Math.min(wait, 2) * 250 * (1 + Math.random())));
  }
  let data;
  try { data = await res.json(); } catch (e) { data = {message: res.statusText}; }
  if (!res.ok) throw new ApiError(res.status, data, Number(res.headers.get("Retry-After") || 0));
  return data;
}

function showError(id, err) {
  const el = $(id);
  el.textContent = err ? `${err.message}${err.code ? ` (${err.status} ${err.code})` : ""}` : "";
}

function storeParam() { return "store=" + encodeURIComponent(state.store); }
function filters() {
  const f = {};
  if (state.where) f.where = state.where;
  if (state.xf) f.exclude_flagged = true;
  return f;
}
// a refusal caused by the audience filter is shown next to the filter, not the figure
function filterFault(err) {
  return err.code === "filter_too_narrow" ||
    (err.code === "invalid_input" && /where|flagged/i.test(err.message));
}

// --- small DOM helpers --------------------------------------------------------------------
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
const fmtInt = v => v === null || v === undefined ? "\u2013" : Math.round(v).toLocaleString("en-US");
const fmtNum = (v, d = 3) => v === null || v === undefined ? "\u2013" : Number(v).toFixed(d);
const fmtPct = v => v === null || v === undefined ? "\u2013" : (100 * v).toFixed(1) + "%";
const label = id => names[id]?.name ? `${names[id].name} (${id})` : String(id);

function fillTable(table, head, rows) {
  const caption = table.querySelector("caption");
  table.replaceChildren(...(caption ? [caption] : []));
  table.append(el("thead", {}, el("tr", {}, ...head.map(h => el("th", {scope: "col"}, h)))));
  table.append(el("tbody", {}, ...rows.map(r => el("tr", {}, ...r.map(c => el("td", {}, c))))));
}

function figures(dl, pairs) {
  dl.replaceChildren(...pairs.map(([k, v, key]) => el("div", {},
    el("dt", {}, k), el("dd", {"data-figure": key}, v))));
}

// --- sign in and the store ----------------------------------------------------------------
async function signIn(key) {
  sessionStorage.setItem(KEY_SLOT, key);
  try {
    stores = (await api("/v1/stores")).stores;
  } catch (err) {
    sessionStorage.removeItem(KEY_SLOT);
    showError("signin-error", err.status === 401
      ? {message: "This key was refused: check it and sign in again", status: 401, code: "unauthorized"}
      : err);
    return false;
  }
  showError("signin-error", null);
  if (!stores.length) {
    showError("signin-error", {message: "This key reads no store."});
    return false;
  }
  $("signin").hidden = true; $("app").hidden = false; $("nav").hidden = false;
  $("signout").hidden = false;
  $("store").replaceChildren(...stores.map(s => el("option", {value: s.name}, s.name)));
  if (state.store && !stores.some(s => s.name === state.store)) {
    showError("reach-error", {message: `This key cannot open store "${state.store}" from the link; ` +
                              "showing one it reads.", status: 404, code: "not_found"});
    state.ids = [];
  }
  if (!state.store || !stores.some(s => s.name === state.store)) state.store = stores[0].name;
  $("store").value = state.store;
  syncInputs();
  await openStore();
  return true;
}

function syncInputs() {
  $("where").value = state.where; $("exclude-flagged").checked = state.xf;
  $("measure").value = state.measure; $("q").value = state.q;
  $("min-followers").value = state.fmin; $("max-followers").value = state.fmax;
  $("budget").value = state.budget; $("objective").value = state.objective;
  $("quotas").value = state.quotas; $("max-creators").value = state.maxc;
  $("audience").value = state.audience;
}

// engaged and loyal audiences need the store's interactions part: hidden without one
function hasInteractions() { return !!stores.find(s => s.name === state.store)?.has_interactions; }
function showInteractions() {
  const on = hasInteractions();
  $("audience-row").hidden = !on; $("audiences").hidden = !on;
  if (!on) state.audience = "followers";
  for (const o of $("objective").querySelectorAll("option[data-interactions]")) {
    o.hidden = !on; o.disabled = !on;
  }
  if (!on && ["engaged", "loyal"].includes(state.objective)) state.objective = "unique";
  $("audience").value = state.audience; $("objective").value = state.objective;
}

async function openStore() {
  const s = stores.find(x => x.name === state.store);
  $("store-info").textContent = `${fmtInt(s.accounts)} accounts, ${fmtInt(s.edges)} follows, ` +
    `${fmtInt(s.creators)} creators` + (s.has_interactions ? ", with interactions" : "");
  showInteractions();
  writeHash();
  await Promise.all([search(), loadNames(state.ids).then(redraw)]);
}

async function loadNames(ids) {
  const missing = ids.filter(id => !names[id]);
  if (!missing.length) return;
  try {
    const page = await api(`/v1/creators?${storeParam()}&limit=1000&ids=` +
                           encodeURIComponent(missing.join(",")));
    for (const c of page.creators) names[c.id] = c;
  } catch (err) { showError("reach-error", err); }
}

// --- search -------------------------------------------------------------------------------
function searchQuery(offset, limit, quality) {
  const p = new URLSearchParams({store: state.store, sort: state.sort, order: state.order,
                                 offset, limit});
  if (state.q) p.set("q", state.q);
  for (const k of ["tier", "category", "platform"]) if (state[k]) p.set(k, state[k]);
  if (state.fmin) p.set("min_followers", state.fmin);
  if (state.fmax) p.set("max_followers", state.fmax);
  if (quality) p.set("quality", "true");
  return "/v1/creators?" + p.toString();
}

let qualityTimer = null;
async function search(attempt = 1) {
  clearTimeout(qualityTimer);
  let page;
  try {
    page = await api(searchQuery(state.offset, PAGE, state.quality));
  } catch (err) {
    if (err.code === "computing") {
      const wait = Math.min(Math.max(err.retryAfter || 2, 1), 3);
      $("quality-status").textContent = `The fraud review of this store is computing ` +
        `(attempt ${attempt}); retrying in ${wait} s\u2026`;
      qualityTimer = setTimeout(() => search(attempt + 1), wait * 1000);
      return;
    }
    showError("search-error", err);
    return;
  }
  showError("search-error", null);
  $("quality-status").textContent = state.quality ? "Audience quality from the fraud review." : "";
  for (const c of page.creators) names[c.id] = {...names[c.id], ...c};
  renderFacets(page.facets);
  renderResults(page);
}

function renderFacets(facets) {
  for (const k of ["tier", "category", "platform"]) {
    const sel = $(k), values = facets[k] || [];
    sel.replaceChildren(el("option", {value: ""}, "any"),
                        ...values.map(v => el("option", {value: v}, v)));
    sel.value = values.includes(state[k]) ? state[k] : "";
  }
}

function addButton(id, what) {
  const chosen = state.ids.includes(String(id));
  return el("button", {type: "button", "data-add": id, "aria-label": `Add ${what} to the selection`,
                       ...(chosen ? {disabled: ""} : {}), onclick: () => addCreator(id)},
            chosen ? "Added" : "Add");
}

function renderResults(page) {
  const body = $("results").querySelector("tbody");
  body.replaceChildren(...page.creators.map(c => el("tr", {"data-id": c.id},
    el("td", {}, c.id), el("td", {}, c.name ?? ""), el("td", {}, fmtInt(c.followers)),
    el("td", {}, c.tier), el("td", {}, c.category ?? ""), el("td", {}, c.platform ?? ""),
    el("td", {}, c.price == null ? "" : fmtInt(c.price)),
    el("td", {}, page.quality ? fmtPct(c.audience_quality) : ""),
    el("td", {}, page.quality ? fmtInt(c.real_reach) : ""),
    el("td", {}, addButton(c.id, c.name || c.id)))));
  const last = Math.min(page.offset + page.creators.length, page.total);
  $("results-caption").textContent = `Creators matching the filters: ${fmtInt(page.total)}`;
  $("page-info").textContent = page.total ? `${page.offset + 1}\u2013${last} of ${fmtInt(page.total)}` : "none";
  $("prev-page").disabled = page.offset === 0;
  $("next-page").disabled = last >= page.total;
  for (const th of $("results").querySelectorAll("th[aria-sort]")) {
    const key = th.querySelector("button").dataset.sort;
    th.setAttribute("aria-sort", key === state.sort ? (state.order === "desc" ? "descending" : "ascending") : "none");
  }
}

// --- the selection and its reach report ---------------------------------------------------
function addCreator(id) {
  id = String(id);
  if (!state.ids.includes(id)) state.ids.push(id);
  changed();
}
function removeCreator(id) {
  state.ids = state.ids.filter(x => x !== String(id));
  delete state.rates[id]; delete state.posts[id];
  changed();
}
function changed() {
  writeHash();
  redraw();
  for (const b of document.querySelectorAll("button[data-add]")) {
    const on = state.ids.includes(b.dataset.add);
    b.disabled = on; b.textContent = on ? "Added" : "Add";
  }
}

function idValue(id) {
  // ids go back as the store gives them: numbers for integer stores
  const kind = stores.find(s => s.name === state.store)?.id_kind;
  return kind === "int" || /^-?\d+$/.test(id) && kind !== "str" ? Number(id) : id;
}

function reachBody() {
  const body = {store: state.store, ids: state.ids.map(idValue), ...filters()};
  const rates = {}, posts = {};
  for (const id of state.ids) {
    if (state.rates[id] !== undefined && state.rates[id] !== "") rates[id] = Number(state.rates[id]);
    if (state.posts[id] !== undefined && state.posts[id] !== "") posts[id] = Number(state.posts[id]);
  }
  if (Object.keys(rates).length) body.view_rates = rates;
  if (Object.keys(posts).length) body.posts = posts;
  if (state.audience !== "followers") body.audience = state.audience;
  return body;
}

// The selection's unique reach over the other audiences, beside the report's own: one
// /v1/reach call each, in turn (the page's one-call-at-a-time queue).
async function besideReach(body, seq) {
  const out = {...beside};
  if (!hasInteractions() || !report) return out;
  const base = {store: body.store, ids: body.ids, ...filters()};
  for (const a of AUDIENCES.filter(x => x !== state.audience)) {
    if (seq !== reachSeq) return out;
    try {
      out[a] = (await api("/v1/reach", a === "followers" ? base : {...base, audience: a})).unique_reach;
    } catch (err) { out[a] = null; }
  }
  return out;
}

async function redraw() {
  const seq = ++reachSeq;
  $("selection-empty").hidden = state.ids.length > 0;
  if (!state.ids.length) {
    report = null; beside = {}; renderReport(); renderSuggestions([]); return;
  }
  await loadNames(state.ids);
  const body = reachBody();
  const [reach, comp] = await Promise.allSettled([
    api("/v1/reach", body),
    api("/v1/complementary", {store: state.store, ids: body.ids, k: 10, ...filters()})]);
  if (seq !== reachSeq) return;  // a newer change is on its way
  showError("reach-error", null); showError("filter-error", null);
  if (reach.status === "rejected") {
    report = null;
    showError(filterFault(reach.reason) ? "filter-error" : "reach-error", reach.reason);
  } else {
    report = reach.value;
  }
  renderReport();
  beside = {[state.audience]: report ? report.unique_reach : null};  // the others follow
  renderBeside();
  if (comp.status === "rejected") {
    if (!filterFault(comp.reason)) showError("complementary-error", comp.reason);
    renderSuggestions([]);
  } else {
    showError("complementary-error", null);
    for (const c of comp.value.complementary) names[c.id] = {...names[c.id], ...c};
    renderSuggestions(comp.value.complementary);
  }
  $("filter-state").textContent = report && (state.where || state.xf)
    ? `${fmtInt(report.filters.accounts_passing ?? report.population)} accounts pass the filter` : "";
  const others = await besideReach(body, seq);
  if (seq !== reachSeq) return;
  beside = others;
  renderBeside();
}

function utcDay(t) { return new Date(t * 1000).toISOString().slice(0, 10); }

function renderBeside() {
  const f = report?.filters || {};
  $("audience-state").textContent = f.audience && f.audience !== "followers"
    ? `${PEOPLE[f.audience]}: accounts that interacted with each creator from ${utcDay(f.since)} ` +
      `to ${utcDay(f.until)} (UTC)` + (f.loyal ? `, in ${f.loyal.k}+ distinct ${f.loyal.by}` : "")
    : "";
  figures($("audiences"), report && hasInteractions() ? AUDIENCES.map(a => [
    `Unique reach: ${PEOPLE[a]}`, fmtInt(beside[a]), `reach_${a}`]) : []);
}

function renderReport() {
  const body = $("selected").querySelector("tbody");
  if (!report) {
    figures($("figures"), []);
    body.replaceChildren(...state.ids.map((id, i) => selectedRow(id, i, null)));
    renderBeside();
    renderOverlap();
    return;
  }
  const r = report, f = r.frequency.at_least;
  figures($("figures"), [
    [state.audience === "followers" ? "Unique reach" : `Unique reach (${PEOPLE[state.audience]})`,
     fmtInt(r.unique_reach), "unique_reach"],
    ["Gross reach (sum of audiences)", fmtInt(r.gross_reach), "gross_reach"],
    ["Duplication factor", fmtNum(r.duplication), "duplication"],
    ["Reached 1+ times", fmtInt(f[1] ?? 0), "r1"], ["Reached 2+ times", fmtInt(f[2] ?? 0), "r2"],
    ["Reached 3+ times", fmtInt(f[3] ?? 0), "r3"],
    ["Expected reach (view rates, posts)", fmtInt(r.expected_reach), "expected_reach"],
    ["Sainsbury estimate (independence)", fmtInt(r.sainsbury_reach), "sainsbury_reach"],
    ["Population", fmtInt(r.population), "population"],
  ]);
  body.replaceChildren(...r.creators.map((c, i) => selectedRow(String(c.id), i, c)));
  renderOverlap();
}

function selectedRow(id, i, c) {
  const who = label(id);
  const rate = el("input", {type: "number", min: "0", max: "1", step: "any", size: "6",
                            "aria-label": `view rate of ${who}`, value: state.rates[id] ?? "",
                            placeholder: c ? fmtNum(c.view_rate, 3) : ""});
  rate.addEventListener("change", () => { state.rates[id] = rate.value; changed(); });
  const posts = el("input", {type: "number", min: "0", step: "1", size: "4",
                             "aria-label": `posts of ${who}`, value: state.posts[id] ?? "",
                             placeholder: c ? String(c.posts) : ""});
  posts.addEventListener("change", () => { state.posts[id] = posts.value; changed(); });
  return el("tr", {"data-id": id}, el("td", {}, i + 1), el("td", {}, who),
    el("td", {}, c ? c.tier : ""), el("td", {}, c ? fmtInt(c.audience) : ""),
    el("td", {}, c ? fmtInt(c.exclusive) : ""), el("td", {}, c ? fmtInt(c.incremental) : ""),
    el("td", {}, c ? fmtPct(c.share) : ""), el("td", {}, rate), el("td", {}, posts),
    el("td", {}, el("button", {type: "button", "data-remove": id, "aria-label": `Remove ${who}`,
                               onclick: () => removeCreator(id)}, "Remove")));
}

// --- overlap: heatmap, UpSet, curves ------------------------------------------------------
const MEASURE_FMT = {counts: fmtInt, jaccard: v => fmtNum(v, 3), overlap_coefficient: fmtPct,
                     directional: fmtPct, lift: v => fmtNum(v, 2)};

function renderOverlap() {
  for (const id of ["heatmap", "upset", "curve"]) $(id).replaceChildren();
  for (const id of ["heatmap-table", "upset-table", "curve-table"]) $(id).replaceChildren();
  for (const id of ["heatmap-caption", "upset-caption", "curve-caption"]) $(id).textContent = "";
  if (!report) return;
  const ids = report.overlap.ids.map(String), labels = ids.map(label);
  const m = state.measure, fmt = MEASURE_FMT[m], matrix = report.overlap[m];
  const title = $("measure").selectedOptions[0].textContent;
  $("heatmap").append(charts.heatmap(labels, matrix, {format: fmt, title: `Overlap: ${title}`,
                                                 lift: m === "lift"}));
  $("heatmap-caption").textContent = `Overlap, ${title}` +
    (report.suppression.overlap_cells ? `; ${report.suppression.overlap_cells} cells below the ` +
     `minimum group size are not shown` : "");
  $("heatmap").dataset.measure = m;
  fillTable($("heatmap-table"), ["", ...labels],
            matrix.map((row, i) => [labels[i], ...row.map(v => v === null ? "suppressed" : fmt(v))]));
  renderUpset(ids, labels);
  renderCurves(ids, labels);
}

function renderUpset(ids, labels) {
  const pos = Object.fromEntries(ids.map((id, i) => [id, i]));
  const regions = report.regions.map(r => ({creators: r.creators.map(c => pos[String(c)]),
                                            count: r.count}))
    .sort((a, b) => b.count - a.count);
  const people = PEOPLE[report.filters.audience || "followers"];
  $("upset").append(charts.upset(labels, regions, `Audience regions (UpSet): ${people} of ` +
                                 "exactly these creators"));
  const held = report.suppression.regions;
  $("upset-caption").textContent = `${regions.length} regions, largest first` +
    (held ? `; ${held} regions below the minimum group size are not shown` : "");
  fillTable($("upset-table"), ["Creators", `${people[0].toUpperCase()}${people.slice(1)} of exactly these creators`],
            regions.map(r => [r.creators.map(i => labels[i]).join(" + "), fmtInt(r.count)]));
}

// Greedy order from the regions: each step adds the creator reaching the most people
// not yet reached (exact when no region is held back).
function greedyCurve(ids) {
  const regions = report.regions.map(r => ({set: new Set(r.creators.map(String)), count: r.count}));
  const left = new Set(ids), order = [];
  let covered = regions.map(() => false), total = 0;
  while (left.size) {
    let best = null, gain = -1;
    for (const id of ids) {
      if (!left.has(id)) continue;
      let g = 0;
      regions.forEach((r, k) => { if (!covered[k] && r.set.has(id)) g += r.count; });
      if (g > gain) { best = id; gain = g; }
    }
    left.delete(best);
    covered = covered.map((c, k) => c || regions[k].set.has(best));
    total += gain;
    order.push([best, total]);
  }
  return order;
}

function renderCurves(ids, labels) {
  let total = 0;
  const booking = report.creators.map(c => [String(c.id), (total += c.incremental)]);
  const greedy = greedyCurve(ids);
  const pts = rows => [[0, 0], ...rows.map((r, i) => [i + 1, r[1]])];
  $("curve").append(charts.lineChart([
    {name: "booking order", color: "#08306b", points: pts(booking)},
    {name: "greedy order", color: "#b35806", dash: "6 3", points: pts(greedy)}],
    {title: "Unique reach as creators are added", xLabel: "creators added"}));
  const held = report.suppression.regions;
  $("curve-caption").textContent = "Unique reach as creators are added, in booking order and in " +
    "greedy order (most new people first)" +
    (held ? "; the greedy curve leaves out the regions below the minimum group size" : "");
  const name = id => labels[ids.indexOf(id)];
  fillTable($("curve-table"), ["Step", "Booking order", "Unique reach", "Greedy order", "Unique reach"],
            booking.map((b, i) => [i + 1, name(b[0]), fmtInt(b[1]), name(greedy[i][0]),
                                   fmtInt(greedy[i][1])]));
}

// --- suggestions --------------------------------------------------------------------------
function renderSuggestions(rows) {
  $("complementary").querySelector("tbody").replaceChildren(...rows.map(r => el("tr", {},
    el("td", {}, label(r.id)), el("td", {}, r.tier), el("td", {}, fmtInt(r.audience)),
    el("td", {}, fmtInt(r.incremental)), el("td", {}, addButton(r.id, label(r.id))))));
}

async function similar(id) {
  let ans;
  try {
    ans = await api(`/v1/creators/${encodeURIComponent(id)}/similar?${storeParam()}&k=10` +
                    (state.where ? "&where=" + encodeURIComponent(state.where) : "") +
                    (state.xf ? "&exclude_flagged=true" : ""));
  } catch (err) { showError("similar-error", err); return; }
  showError("similar-error", null);
  await loadNames(ans.similar.map(r => String(r.id)));
  $("similar").querySelector("tbody").replaceChildren(...ans.similar.map(r => el("tr", {},
    el("td", {}, label(r.id)), el("td", {}, r.tier), el("td", {}, fmtInt(r.audience)),
    el("td", {}, fmtInt(r.common)), el("td", {}, fmtNum(r.jaccard, 3)),
    el("td", {}, addButton(r.id, label(r.id))))));
}

// --- budget plan --------------------------------------------------------------------------
async function runPlan() {
  showError("plan-error", null);
  $("plan-status").textContent = "Planning\u2026";
  try {
    const page = await api(searchQuery(0, PLAN_CANDIDATES, false));
    const candidates = page.creators.filter(c => c.price > 0).map(c => ({id: c.id, price: c.price}));
    for (const c of page.creators) names[c.id] = {...names[c.id], ...c};
    if (!candidates.length) throw new ApiError(422, {message: "no candidate with a price matches the search filters"});
    const body = {store: state.store, candidates, budget: Number(state.budget),
                  objective: state.objective, ...filters(),
                  tier_quota: state.quotas.split(",").map(s => s.trim()).filter(Boolean)};
    if (state.maxc) body.max_creators = Number(state.maxc);
    planAnswer = await api("/v1/plan", body);
  } catch (err) {
    $("plan-status").textContent = "";
    showError(filterFault(err) ? "filter-error" : "plan-error", err);
    return;
  }
  $("plan-status").textContent = `Plan of ${planAnswer.chosen.length} creators.`;
  renderPlan(planAnswer);
}

function renderPlan(p) {
  $("plan-out").hidden = false;
  const g = p.guarantee;
  figures($("plan-figures"), [
    ["Cost", fmtInt(p.cost), "plan_cost"], ["Budget", fmtInt(p.budget), "plan_budget"],
    [`Value (${p.objective})`, fmtInt(p.value), "plan_value"],
    ["Certified bound on the optimum", g.upper_bound == null ? "\u2013" : fmtInt(g.upper_bound), "plan_bound"],
    ["Certified share of the optimum", g.certified_ratio == null ? "\u2013" : fmtPct(g.certified_ratio), "plan_ratio"],
    ["A priori guarantee", g.applies ? `${fmtPct(g.bound)} of the optimum` : "none", "plan_guarantee"],
    ...(p.filters.audience ? [[`Followers reached (beside the ${PEOPLE[p.filters.audience]})`,
                               fmtInt(p.measures.follower_reach), "plan_follower_reach"]] : []),
    ["Naive plan: cost", fmtInt(p.naive.cost), "naive_cost"],
    ["Naive plan: value", fmtInt(p.naive.value), "naive_value"],
  ]);
  const shap = Object.fromEntries(p.shapley.values.map(v => [String(v.id), v]));
  fillTable($("plan-chosen"), ["Creator", "Tier", "Cost", "Marginal gain", "Shapley value", "Shapley share"],
            p.chosen.map(c => [label(c.id), c.tier, fmtInt(c.cost), fmtInt(c.marginal_gain),
                               fmtInt(shap[String(c.id)]?.value), fmtPct(shap[String(c.id)]?.share)]));
  fillTable($("plan-naive"), ["Creator"], p.naive.chosen.map(id => [label(id)]));
  $("plan-curve").replaceChildren(charts.lineChart([
    {name: "plan", color: "#08306b", points: p.curve.map(c => [c.spend, c.value])},
    {name: "naive plan", color: "#b35806", points: [[p.naive.cost, p.naive.value]]}],
    {title: "Objective against spend", xLabel: "spend"}));
}

// --- share and export ---------------------------------------------------------------------
function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function reportCsv() {
  const r = report, rows = [["section", "key", "value"]];
  for (const k of ["unique_reach", "gross_reach", "duplication", "expected_reach",
                   "sainsbury_reach", "population"]) rows.push(["totals", k, r[k]]);
  r.frequency.at_least.forEach((v, k) => { if (k > 0) rows.push(["totals", `reach_${k}plus`, v]); });
  rows.push([], ["creators", "id", "name", "audience", "exclusive", "incremental", "share",
                 "tier", "view_rate", "posts"]);
  for (const c of r.creators) {
    rows.push(["creators", c.id, names[c.id]?.name ?? "", c.audience, c.exclusive, c.incremental,
               c.share, c.tier, c.view_rate, c.posts]);
  }
  rows.push([], [`overlap_${state.measure}`, "", ...r.overlap.ids]);
  r.overlap[state.measure].forEach((row, i) => rows.push([`overlap_${state.measure}`, r.overlap.ids[i], ...row]));
  for (const a of AUDIENCES) if (beside[a] !== undefined) rows.push(["totals", `unique_reach_${a}`, beside[a]]);
  rows.push([], ["filters", "where", state.where], ["filters", "exclude_flagged", state.xf],
            ["filters", "audience", state.audience]);
  return rows.map(row => row.map(csvCell).join(",")).join("\n") + "\n";
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", {href: url, download: name});
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function exportChart(id, format) {
  const svg = $(id).querySelector("svg");
  if (!svg) return;
  const text = new XMLSerializer().serializeToString(svg);
  const blob = new Blob([text], {type: "image/svg+xml"});
  if (format === "svg") { download(blob, `kolgraph-${id}.svg`); return; }
  const img = new Image(), url = URL.createObjectURL(blob);
  img.onload = () => {
    const canvas = el("canvas", {width: svg.getAttribute("width") * 2,
                                 height: svg.getAttribute("height") * 2});
    const ctx = canvas.getContext("2d");
    ctx.scale(2, 2); ctx.drawImage(img, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob(png => download(png, `kolgraph-${id}.png`), "image/png");
  };
  img.src = url;
}

// --- wiring -------------------------------------------------------------------------------
function wire() {
  $("signin-form").addEventListener("submit", e => { e.preventDefault(); signIn($("key").value.trim()); $("key").value = ""; });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY_SLOT); location.reload(); });
  $("store").addEventListener("change", () => {
    state.store = $("store").value; state.ids = []; state.offset = 0; openStore();
  });
  $("filter-form").addEventListener("submit", e => {
    e.preventDefault(); state.where = $("where").value.trim(); state.xf = $("exclude-flagged").checked;
    changed();
  });
  $("search-form").addEventListener("submit", e => {
    e.preventDefault();
    Object.assign(state, {q: $("q").value.trim(), tier: $("tier").value, category: $("category").value,
                          platform: $("platform").value, fmin: $("min-followers").value,
                          fmax: $("max-followers").value, offset: 0});
    writeHash(); search();
  });
  $("quality-btn").addEventListener("click", () => { state.quality = true; writeHash(); search(); });
  for (const b of $("results").querySelectorAll("button[data-sort]")) {
    b.addEventListener("click", () => {
      const key = b.dataset.sort;
      state.order = state.sort === key && state.order === "desc" ? "asc" : "desc";
      state.sort = key; state.offset = 0; writeHash(); search();
    });
  }
  $("prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); search(); });
  $("next-page").addEventListener("click", () => { state.offset += PAGE; search(); });
  $("measure").addEventListener("change", () => { state.measure = $("measure").value; writeHash(); renderOverlap(); });
  $("audience").addEventListener("change", () => { state.audience = $("audience").value; changed(); });
  $("similar-form").addEventListener("submit", e => { e.preventDefault(); similar($("similar-id").value.trim()); });
  $("plan-form").addEventListener("submit", e => {
    e.preventDefault();
    Object.assign(state, {budget: $("budget").value, objective: $("objective").value,
                          quotas: $("quotas").value.trim(), maxc: $("max-creators").value});
    writeHash(); runPlan();
  });
  $("use-plan").addEventListener("click", () => {
    state.ids = planAnswer.chosen.map(c => String(c.id)); state.rates = {}; state.posts = {};
    changed();
  });
  $("copy-link").addEventListener("click", async () => {
    writeHash();
    try { await navigator.clipboard.writeText(location.href); $("share-status").textContent = "Link copied (it holds no key)."; }
    catch (e) { $("share-status").textContent = "Copy the address bar: it holds the view (not the key)."; }
  });
  $("export-csv").addEventListener("click", () => {
    if (!report) { $("share-status").textContent = "Add creators first: there are no figures to export."; return; }
    download(new Blob([reportCsv()], {type: "text/csv"}), "kolgraph-reach.csv");
  });
  for (const b of document.querySelectorAll("button[data-export]")) {
    b.addEventListener("click", () => exportChart(b.dataset.export, b.dataset.format));
  }
  for (const a of document.querySelectorAll("a[data-jump]")) {
    a.addEventListener("click", e => { e.preventDefault(); $(a.dataset.jump).scrollIntoView(); $(a.dataset.jump).querySelector("h2").focus?.(); });
  }
}

async function start() {
  readHash();
  wire();
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) await signIn(key);
  else $("key").focus();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", start);
