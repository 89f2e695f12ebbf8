// Quotas: propose on a run, edit a quota (a new version), review and comment; JSON to the API.
(function () {
  "use strict";
  const HEADERS = { "X-Align-Page": "1", "Content-Type": "application/json" };
  function say(text) {
    const m = document.getElementById("message") || document.getElementById("quota-message");
    if (m) { m.textContent = text; m.className = "error"; }
  }
  async function post(url, body, extra) {
    const r = await fetch(url, { method: "POST", headers: Object.assign({}, HEADERS, extra || {}),
      credentials: "same-origin", body: JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((j.detail || r.statusText) + ((j.problems && j.problems.length) ? ": " + j.problems.join("; ") : ""));
    return j;
  }
  function on(id, handler) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      if (e.submitter && e.submitter.name) f.set(e.submitter.name, e.submitter.value);
      try { await handler(f); } catch (err) { say(err.message); }
    });
  }
  const box = document.getElementById("proposal");
  const id = box ? box.dataset.proposal : null;
  on("propose", async (f) => {
    const run = document.getElementById("propose").dataset.run;
    const res = await post("/runs/" + run + "/quotas", { goal: parseFloat(f.get("goal")) });
    window.location.assign("/ui/proposals/" + res.id);
  });
  on("override", async (f) => {
    const t = f.get("territory"), q = {}, why = {};
    q[t] = parseFloat(f.get("quota"));
    why[t] = f.get("reason");
    // sent with the version this page read: a newer one made meanwhile is a 409, not overwritten
    const res = await post("/proposals/" + id + "/overrides", { quotas: q, reason: why },
      { "If-Match": box.dataset.etag });
    window.location.assign("/ui/proposals/" + res.id);
  });
  on("review", async (f) => {
    await post("/proposals/" + id + "/review", { to: f.get("to"), region: f.get("region") || "", note: f.get("note") || "" });
    window.location.reload();
  });
  on("comment", async (f) => {
    await post("/proposals/" + id + "/comments", { text: f.get("text") });
    window.location.reload();
  });
  document.body.dataset.proposalJs = "1";
})();
