// The planning room's map: a run's plan, what-if moves with balance recomputed in the browser,
// the change log (who, why, undo) and "re-optimise around my changes".
// Every text from the data is put in the page with textContent (never as HTML).
(function () {
  "use strict";
  const room = document.getElementById("room");
  if (!room) return;
  const runId = room.dataset.run;
  const HEADERS = { "X-Align-Page": "1", "Content-Type": "application/json" };
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
    "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"];
  const timings = { start: performance.now() };
  const state = { data: null, version: 0, assign: null, plan: null, manual: new Set(),
    selected: new Set(), markers: [], hulls: null, outlines: null, staleOutlines: new Set(), outlineAt: new Map(), outlinesDrawn: -1, homes: null, maxPlanDist: null };
  window.alignRoom = { ready: false, timings: timings, state: state };

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 0 : digits });
  }
  function pct(v) { return (v === null || !Number.isFinite(v)) ? "—" : (100 * v).toFixed(1) + "%"; }
  function say(text, bad) {
    const m = document.getElementById("message");
    m.textContent = text;
    m.className = bad ? "error" : "";
  }
  async function api(method, url, body) {
    const r = await fetch(url, { method: method, headers: HEADERS, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      const extra = (j.problems && j.problems.length) ? ": " + j.problems.join("; ") : "";
      const err = new Error((j.detail || r.statusText) + extra);
      err.status = r.status;
      throw err;
    }
    return j;
  }

  // --- geometry -------------------------------------------------------------------------------
  const latlon = () => state.data.coordinates === "latlon";
  function dist(lat1, lon1, lat2, lon2) {
    if (!latlon()) return Math.hypot(lat1 - lat2, lon1 - lon2);
    const r = Math.PI / 180, dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
    const a = Math.sin(dlat / 2) ** 2 + Math.cos(lat1 * r) * Math.cos(lat2 * r) * Math.sin(dlon / 2) ** 2;
    return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
  }
  function hull(points) { // Andrew's monotone chain; points [lat, lon]
    if (points.length < 3) return points;
    points.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const cross = (o, a, b) => (a[1] - o[1]) * (b[0] - o[0]) - (a[0] - o[0]) * (b[1] - o[1]);
    const lower = [], upper = [];
    for (const p of points) {
      while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
      lower.push(p);
    }
    for (let i = points.length - 1; i >= 0; i--) {
      const p = points[i];
      while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
      upper.push(p);
    }
    upper.pop(); lower.pop();
    return lower.concat(upper);
  }

  // --- the plan as arrays ---------------------------------------------------------------------
  function replay() {
    const d = state.data, tIndex = state.tIndex, aIndex = state.aIndex;
    state.assign = Int32Array.from(state.plan);
    state.manual = new Set();
    for (const c of d.changes) {
      if (c.undone_seq !== null) continue;
      for (const a of c.accounts) {
        const i = aIndex.get(a);
        if (c.territory) state.assign[i] = tIndex.get(c.territory);
        state.manual.add(i);
      }
    }
  }
  function colourOf(t) { return PALETTE[t % PALETTE.length]; }
  function restyle(i) {
    const m = state.markers[i];
    if (!m) return;
    const sel = state.selected.has(i), man = state.manual.has(i);
    const flag = (sel ? 2 : 0) + (man ? 1 : 0);
    if (state.drawnT[i] === state.assign[i] && state.drawnFlag[i] === flag) return; // as drawn
    state.drawnT[i] = state.assign[i];
    state.drawnFlag[i] = flag;
    m.setStyle({ fillColor: colourOf(state.assign[i]), color: sel ? "#000" : (man ? "#222" : colourOf(state.assign[i])),
      weight: sel ? 2.5 : (man ? 1.5 : 0.5), radius: sel ? 5 : (man ? 4.5 : 3.5) });
  }

  // --- balance, KPIs, warnings -----------------------------------------------------------------
  function recompute() {
    const d = state.data, A = d.accounts, T = d.territories, n = A.id.length, m = T.length;
    const shares = T.map((t) => t.target_share || 1), shareSum = shares.reduce((a, b) => a + b, 0);
    const out = { measures: [], moved: 0, meanDist: null, warnings: [] };
    for (const meas of d.measures) {
      const col = A[meas.name], tot = new Float64Array(m);
      let all = 0;
      for (let i = 0; i < n; i++) { tot[state.assign[i]] += col[i]; all += col[i]; }
      const dev = Array.from(tot, (v, t) => { const target = all * shares[t] / shareSum; return target > 0 ? v / target - 1 : 0; });
      out.measures.push({ name: meas.name, tolerance: meas.tolerance, totals: tot, dev: dev,
        maxAbs: Math.max(...dev.map(Math.abs)) });
    }
    if (A.today) {
      for (let i = 0; i < n; i++) if (A.today[i] !== null && T[state.assign[i]].id !== A.today[i]) out.moved++;
    }
    if (A.lat && state.homes) {
      let s = 0, k = 0;
      for (let i = 0; i < n; i++) {
        const h = T[state.assign[i]].home;
        if (!h) continue;
        const x = dist(A.lat[i], A.lon[i], h[0], h[1]);
        s += x; k++;
        if (state.manual.has(i) && state.assign[i] !== state.plan[i] && x > state.maxPlanDist[state.assign[i]] * 1.0001) {
          out.warnings.push({ i: i, d: x, t: state.assign[i] });
        }
      }
      out.meanDist = k ? s / k : null;
    }
    return out;
  }
  function render(out) {
    const d = state.data, T = d.territories;
    const unit = latlon() ? " km" : "";
    const kp = document.querySelector("#kpis tbody");
    const rows = [];
    for (const mm of out.measures) rows.push([mm.name + " largest deviation", pct(mm.maxAbs) + " (±" + pct(mm.tolerance) + ")"]);
    rows.push(["accounts moved vs today", fmt(out.moved)]);
    rows.push(["accounts changed by hand", fmt(state.manual.size)]);
    rows.push(["mean distance to home", out.meanDist === null ? "—" : fmt(out.meanDist, 1) + unit]);
    rows.push(["solver status · proven gap", (d.run.solver_status || "") + " · " + pct(d.run.gap)]);
    kp.replaceChildren(...rows.map(([k, v]) => { const tr = el("tr"); tr.append(el("th", k), el("td", v)); return tr; }));

    const bars = document.querySelector("#balance .bars");
    const frag = document.createDocumentFragment();
    for (const mm of out.measures) {
      frag.append(el("h3", mm.name + " (band ±" + pct(mm.tolerance) + ")"));
      const span = Math.max(2 * mm.tolerance, mm.maxAbs * 1.1, 0.01);
      T.forEach((t, j) => {
        const row = el("div", null, "row" + (Math.abs(mm.dev[j]) > mm.tolerance + 1e-9 ? " out" : ""));
        row.dataset.territory = t.id;
        row.dataset.measure = mm.name;
        const track = el("div", null, "track"), band = el("div", null, "band"), val = el("div", null, "val");
        const x = (v) => 50 + 50 * v / span;
        band.style.left = x(-mm.tolerance) + "%"; band.style.width = (x(mm.tolerance) - x(-mm.tolerance)) + "%";
        const v = mm.dev[j];
        row.dataset.deviation = String(v);
        val.style.left = Math.min(x(0), x(v)) + "%"; val.style.width = Math.abs(x(v) - x(0)) + "%";
        track.append(band, el("div", null, "zero"), val);
        const label = el("a", t.id + " " + t.name);
        label.href = "/ui/runs/" + runId + "/territories/" + encodeURIComponent(t.id);
        label.title = "the territory plan of " + (t.rep || t.id);
        row.append(label, track, el("span", (v >= 0 ? "+" : "") + pct(v), "pct"));
        row.title = t.id + ": " + fmt(mm.totals[j]) + " " + mm.name;
        frag.append(row);
      });
    }
    bars.replaceChildren(frag);

    const ul = document.querySelector("#warnings ul");
    ul.replaceChildren(...out.warnings.slice(0, 50).map((w) => el("li",
      d.accounts.id[w.i] + " (" + d.accounts.name[w.i] + ") is " + fmt(w.d, 0) + unit + " from " + T[w.t].id +
      "'s home; the plan's farthest " + T[w.t].id + " account is " + fmt(state.maxPlanDist[w.t], 0) + unit)));
    if (!out.warnings.length) ul.replaceChildren(el("li", "none: every account moved by hand is within its new territory's reach"));
    document.querySelector("#warnings h2").textContent = "Distance warnings (" + out.warnings.length + ")";
  }
  // dissolved outlines (scenarios of polygons): unions by territory from the server; after a
  // change, the territories it touched are drawn dashed until their new union is back
  const outlineStyle = (f) => ({ color: colourOf(state.tIndex.get(f.properties.territory_id)), weight: 2,
    fillOpacity: 0.08, dashArray: state.staleOutlines.has(f.properties.territory_id) ? "5 5" : null });
  async function loadOutlines(ids) {
    const q = ids ? "?territories=" + ids.map(encodeURIComponent).join(",") : "";
    ids = ids || state.data.territories.map((t) => t.id);
    for (const t of ids) state.staleOutlines.add(t);
    state.outlines.setStyle(outlineStyle);
    try {
      const res = await api("GET", "/runs/" + runId + "/outlines" + q);
      // an answer older than one drawn already (a slow first load after a quick move) is dropped
      const newer = new Set(ids.filter((t) => (state.outlineAt.get(t) ?? -1) <= res.version));
      state.outlines.eachLayer((layer) => { if (newer.has(layer.feature.properties.territory_id)) state.outlines.removeLayer(layer); });
      state.outlines.addData({ type: "FeatureCollection", features: res.features.filter((f) => newer.has(f.properties.territory_id)) });
      for (const t of newer) { state.outlineAt.set(t, res.version); state.staleOutlines.delete(t); }
      state.outlines.setStyle(outlineStyle);
      if (timings.outlines === undefined) timings.outlines = performance.now() - timings.start;
      state.outlinesDrawn = Math.max(state.outlinesDrawn, res.version);
      room.dataset.outlines = String(state.outlinesDrawn);
    } catch (e) { say("territory outlines: " + e.message, true); }
  }
  function touched(indices, before) { // the territories a change or an undo moved accounts between
    const T = state.data.territories, ids = new Set();
    for (const i of indices) { ids.add(T[before[i]].id); ids.add(T[state.assign[i]].id); }
    return Array.from(ids);
  }
  window.alignRoom.outlines = () => {
    const out = [];
    if (state.outlines) state.outlines.eachLayer((l) => out.push({ territory: l.feature.properties.territory_id,
      type: l.feature.geometry.type, parts: l.feature.properties.parts, units: l.feature.properties.units }));
    return out.sort((a, b) => (a.territory < b.territory ? -1 : 1));
  };
  function drawHulls() {
    if (!state.hulls) return;
    const d = state.data, groups = d.territories.map(() => []);
    for (let i = 0; i < d.accounts.id.length; i++) groups[state.assign[i]].push([d.accounts.lat[i], d.accounts.lon[i]]);
    state.hulls.clearLayers();
    groups.forEach((pts, t) => {
      if (pts.length) L.polygon(hull(pts), { color: colourOf(t), weight: 1.5, fillOpacity: 0.06, interactive: false }).addTo(state.hulls);
    });
  }
  function renderChanges() {
    const ol = document.querySelector("#changes ol"), d = state.data;
    ol.replaceChildren(...d.changes.slice().reverse().map((c) => {
      const li = el("li", null, c.undone_seq !== null ? "undone" : "");
      const what = c.territory ? "moved to " + c.territory : "locked in place";
      const ids = c.accounts.slice(0, 5).join(", ") + (c.accounts.length > 5 ? " …" : "");
      li.append(el("b", c.who), document.createTextNode(" " + c.accounts.length + " account(s) " + what +
        " (" + ids + "): " + c.reason + " "));
      if (c.undone_seq === null) {
        const b = el("button", "Undo", "undo");
        b.type = "button";
        b.addEventListener("click", () => undo(c));
        li.append(b);
      } else li.append(el("span", " undone by " + c.undone_by));
      return li;
    }));
  }
  function refresh() {
    for (let i = 0; i < state.markers.length; i++) restyle(i);
    const out = recompute();
    render(out);
    drawHulls();
    renderChanges();
    document.getElementById("sel-count").textContent = state.selected.size;
    return out;
  }

  // --- selection and changes -------------------------------------------------------------------
  window.alignRoom.selectIds = (ids) => select(ids.map((a) => state.aIndex.get(a)), false);
  window.alignRoom.selected = () => Array.from(state.selected, (i) => state.data.accounts.id[i]).sort();
  function select(indices, add) {
    const before = Array.from(state.selected);
    if (!add) state.selected.clear();
    for (const i of indices) state.selected.add(i);
    for (const i of before) restyle(i);
    for (const i of state.selected) restyle(i);
    document.getElementById("sel-count").textContent = state.selected.size;
  }
  async function change(territory, reason) {
    const t0 = performance.now();
    const idx = Array.from(state.selected);
    if (!idx.length) { say("select accounts first", true); return; }
    const body = { accounts: idx.map((i) => state.data.accounts.id[i]), territory: territory, lock: true,
      reason: reason, base: state.version };
    // at once in the browser: the change as if recorded, undone if the server refuses it
    const before = Int32Array.from(state.assign);
    const pending = { id: "pending", seq: state.version + 1, accounts: body.accounts, territory: territory || "",
      who: "…", reason: reason, undone_seq: null, undone_by: null };
    state.data.changes.push(pending);
    replay();
    refresh();
    requestAnimationFrame(() => { timings.update = performance.now() - t0; });
    try {
      const saved = await api("POST", "/runs/" + runId + "/changes", body);
      state.data.changes[state.data.changes.indexOf(pending)] = saved;
      state.version = saved.seq;
      room.dataset.saved = String(saved.seq);
      select([], false);
      renderChanges();
      if (state.outlines) {
        await loadOutlines(touched(idx, before));
        timings.outlinesUpdate = performance.now() - t0;
      }
      say("recorded: " + idx.length + " account(s) " + (territory ? "moved to " + territory : "locked"));
    } catch (e) {
      state.data.changes.splice(state.data.changes.indexOf(pending), 1);
      replay();
      refresh();
      say(e.message, true);
    }
  }
  async function undo(c) {
    try {
      const saved = await api("POST", "/runs/" + runId + "/changes/" + c.id + "/undo", { base: state.version });
      Object.assign(c, saved);
      state.version = saved.undone_seq;
      const before = Int32Array.from(state.assign);
      replay();
      refresh();
      if (state.outlines) await loadOutlines(touched(c.accounts.map((a) => state.aIndex.get(a)), before));
      say("undone: change " + c.seq);
    } catch (e) { say(e.message, true); }
  }

  // --- the map --------------------------------------------------------------------------------
  function tip(i) {
    const d = state.data, A = d.accounts, T = d.territories;
    const box = el("div", null, "tip");
    const line = (k, v) => { const p = el("div"); p.append(el("b", k), document.createTextNode(" " + v)); box.append(p); };
    line("account", A.id[i] + " · " + A.name[i]);
    if (A.potential) line("potential", fmt(A.potential[i]));
    if (A.workload) line("workload", fmt(A.workload[i], 1));
    line("owner today", A.today ? (A.today[i] || "—") : "—");
    line("in the plan", A.plan[i]);
    if (state.assign[i] !== state.plan[i]) line("moved by hand to", T[state.assign[i]].id);
    if (state.manual.has(i) || A.locked[i]) line("locked", "yes");
    return box;
  }
  function lassoSelect(map) { // shift-drag draws a free-hand lasso; the points inside join
    let path = null, line = null;
    map.on("mousedown", (e) => {
      if (!e.originalEvent.shiftKey) return;
      map.dragging.disable();
      path = [e.containerPoint];
      line = L.polyline([e.latlng], { color: "#000", weight: 1, dashArray: "4", interactive: false }).addTo(map);
    });
    map.on("mousemove", (e) => {
      if (!path) return;
      path.push(e.containerPoint);
      line.addLatLng(e.latlng);
    });
    map.on("mouseup", () => {
      if (!path) return;
      const ring = path, A = state.data.accounts, hit = [];
      map.removeLayer(line);
      path = null; line = null;
      map.dragging.enable();
      if (ring.length < 3) return;
      for (let i = 0; i < A.id.length; i++) {
        const p = map.latLngToContainerPoint([A.lat[i], A.lon[i]]);
        let inside = false; // ray casting
        for (let a = 0, b = ring.length - 1; a < ring.length; b = a++) {
          if ((ring[a].y > p.y) !== (ring[b].y > p.y) &&
              p.x < (ring[b].x - ring[a].x) * (p.y - ring[a].y) / (ring[b].y - ring[a].y) + ring[a].x) inside = !inside;
        }
        if (inside) hit.push(i);
      }
      select(hit, true);
    });
  }
  async function statesLayer(map) {
    try {
      const topo = await (await fetch(room.dataset.states)).json();
      return L.geoJSON(topojson.feature(topo, topo.objects.states),
        { style: { color: "#8a94a0", weight: 0.8, fill: false }, interactive: false }).addTo(map);
    } catch (e) { say("state outlines could not be drawn: " + e.message, true); return null; }
  }
  async function pocketsLayer() {
    const layer = L.layerGroup();
    let loaded = false;
    layer.on("add", async () => {
      if (loaded) return;
      loaded = true;
      try {
        const res = await api("POST", "/scenarios/" + state.data.run.scenario_id + "/pockets", { run: runId });
        for (const p of res.pockets) {
          const c = L.circle([p.lat, p.lon], { radius: (p.radius_80_km || 20) * 1000, color: "#b8860b", weight: 2, fillOpacity: 0.15 });
          const box = el("div");
          box.append(el("b", "pocket " + p.pocket_id), el("div", "whitespace " + fmt(p.whitespace)),
            el("div", p.accounts + " accounts; nearest " + p.nearest_territory + " at " + fmt(p.nearest_distance_km) + " km"));
          c.bindTooltip(box);
          c.addTo(layer);
        }
        say(res.pockets.length + " pocket(s) of whitespace shown");
      } catch (e) { say("pockets: " + e.message, true); }
    });
    return layer;
  }
  async function start() {
    const d = await api("GET", "/runs/" + runId + "/plan");
    timings.data = performance.now() - timings.start;
    state.data = d;
    state.version = d.version;
    state.tIndex = new Map(d.territories.map((t, j) => [t.id, j]));
    state.aIndex = new Map(d.accounts.id.map((a, i) => [a, i]));
    state.plan = Int32Array.from(d.accounts.plan, (t) => state.tIndex.get(t));
    state.drawnT = new Int32Array(state.plan.length).fill(-1);
    state.drawnFlag = new Uint8Array(state.plan.length);
    replay();
    const A = d.accounts, T = d.territories;
    for (const s of document.querySelectorAll("select[name=territory]")) {
      for (const t of T) { const o = el("option", t.id + " · " + t.name + (t.rep ? " (" + t.rep + ")" : "")); o.value = t.id; s.append(o); }
    }
    const map = L.map("map", { preferCanvas: true, boxZoom: false, attributionControl: false,
      crs: latlon() ? L.CRS.EPSG3857 : L.CRS.Simple, minZoom: latlon() ? 2 : -5 });
    const overlays = {};
    if (A.lat) {
      if (latlon()) { const s = await statesLayer(map); if (s) overlays["State outlines"] = s; }
      const renderer = L.canvas({ padding: 0.2 });
      const bounds = L.latLngBounds([]);
      for (let i = 0; i < A.id.length; i++) {
        const m = L.circleMarker([A.lat[i], A.lon[i]], { renderer: renderer, radius: 3.5, weight: 0.5, fillOpacity: 0.85 });
        m.bindTooltip(() => tip(i), { direction: "top" });
        m.on("click", (e) => select([i], e.originalEvent.shiftKey || e.originalEvent.ctrlKey));
        state.markers.push(m);
        bounds.extend([A.lat[i], A.lon[i]]);
      }
      for (let i = 0; i < state.markers.length; i++) restyle(i);
      state.points = L.layerGroup(state.markers).addTo(map);
      overlays["Accounts"] = state.points;
      if (d.outlines === "dissolved") {
        state.outlines = L.geoJSON(null, { style: outlineStyle, interactive: false }).addTo(map);
        overlays["Territory outlines (dissolved)"] = state.outlines;
        loadOutlines(null); // drawn when the server has dissolved them; the points do not wait
      } else {
        state.hulls = L.layerGroup().addTo(map);
        overlays["Territory outlines (hulls)"] = state.hulls;
      }
      state.homes = L.layerGroup();
      state.maxPlanDist = new Float64Array(T.length);
      for (let i = 0; i < A.id.length; i++) {
        const h = T[state.plan[i]].home;
        if (h) state.maxPlanDist[state.plan[i]] = Math.max(state.maxPlanDist[state.plan[i]], dist(A.lat[i], A.lon[i], h[0], h[1]));
      }
      T.forEach((t, j) => {
        if (!t.home) return;
        const h = L.circleMarker(t.home, { radius: 8, color: "#000", weight: 2.5, fillColor: colourOf(j), fillOpacity: 1 });
        h.bindTooltip(el("span", t.id + " · " + t.name + (t.rep ? " · " + t.rep : "") + " (home base)", "home-label"));
        h.addTo(state.homes);
      });
      state.homes.addTo(map);
      overlays["Rep home bases"] = state.homes;
      overlays["Pockets of whitespace"] = await pocketsLayer();
      L.control.layers(null, overlays, { collapsed: false }).addTo(map);
      map.fitBounds(bounds.pad(0.05));
      lassoSelect(map);
      // for tests and benchmarks: where an account is drawn (page pixels), its hover details
      window.alignRoom.pointOf = (id) => {
        const i = state.aIndex.get(id), r = map.getContainer().getBoundingClientRect();
        const p = map.latLngToContainerPoint([A.lat[i], A.lon[i]]);
        return [r.left + p.x, r.top + p.y];
      };
      window.alignRoom.openTip = (id) => { state.markers[state.aIndex.get(id)].openTooltip(); };
    } else {
      document.getElementById("map").replaceChildren(el("p", "this scenario has no coordinates: no map, balance only", "hint"));
    }
    refresh();
    await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
    timings.firstRender = performance.now() - timings.start;
    timings.sinceNavigation = performance.now();
    wire();
    await showParent();
    window.alignRoom.ready = true;
    room.dataset.ready = "1";
  }
  function wire() {
    document.getElementById("filter").addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(e.target), t = f.get("territory"), min = parseFloat(f.get("min"));
      const A = state.data.accounts, hit = [];
      for (let i = 0; i < A.id.length; i++) {
        if (t && state.data.territories[state.assign[i]].id !== t) continue;
        if (Number.isFinite(min) && A.potential && A.potential[i] < min) continue;
        hit.push(i);
      }
      select(hit, false);
    });
    document.getElementById("clear").addEventListener("click", () => select([], false));
    const move = document.getElementById("move");
    move.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(move);
      change(f.get("territory"), f.get("reason"));
    });
    document.getElementById("lock").addEventListener("click", () => {
      const reason = new FormData(move).get("reason");
      if (!reason) { say("say why (it is recorded with the change)", true); return; }
      change(null, reason);
    });
    document.getElementById("reoptimise").addEventListener("submit", async (e) => {
      e.preventDefault();
      const share = parseFloat(new FormData(e.target).get("max_moved_share"));
      try {
        const res = await api("POST", "/runs/" + runId + "/reoptimise", { max_moved_share: share, base: state.version });
        window.location.assign(res.page);
      } catch (err) { say(err.message, true); }
    });
  }
  async function showParent() {
    const d = state.data, box = document.getElementById("parent");
    if (!d.run.parent_run) return;
    const rows = await api("GET", "/runs/" + runId + "/assignments");
    const manual = new Set(d.run.manual);
    const others = rows.filter((r) => r.moved && !manual.has(r.account_id));
    const head = el("p");
    const a = el("a", "run " + d.run.parent_run.slice(0, 8));
    a.href = "/ui/runs/" + d.run.parent_run;
    head.append(document.createTextNode("Re-optimised around " + manual.size + " account(s) changed by hand in "), a,
      document.createTextNode(": " + (d.run.solver_status || "") + ", proven gap " + pct(d.run.gap) + "; " +
      others.length + " other account(s) moved:"));
    const ul = el("ul", null, "others");
    ul.append(...others.slice(0, 100).map((r) => el("li", r.account_id + ": " + r.previous_territory + " → " + r.territory_id)));
    box.replaceChildren(head, ul);
  }
  start().catch((e) => say(e.message, true));
})();
