// Upload with a column mapping: the page reads each CSV file's header line (nothing else of the
// files is sent before the upload), the server says how align would read it (the selects come
// pre-filled with the names it recognises), and the choices go with the upload as map items.
(function () {
  "use strict";
  const form = document.getElementById("upload");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const box = document.getElementById("mapping");
  const header = document.body.dataset.pageHeader || "X-Align-Page";
  const heads = new Map(); // file name -> its headers

  function headerLine(text) { // the first record of a CSV text, quotes respected
    const out = [];
    let field = "", quoted = false, i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (ch === '"') quoted = false;
        else field += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") { out.push(field); field = ""; }
      else if (ch === "\n" || ch === "\r") break;
      else field += ch;
    }
    out.push(field);
    return out;
  }
  async function ask(files) {
    const r = await fetch("/ui/columns", { method: "POST", credentials: "same-origin",
      headers: { [header]: "1", "Content-Type": "application/json" }, body: JSON.stringify({ files: files }) });
    if (!r.ok) throw new Error("the column mapping could not be read (" + r.status + ")");
    const tpl = document.createElement("template");
    tpl.innerHTML = await r.text(); // rendered by the server, every text escaped
    return tpl.content;
  }
  async function show() {
    heads.clear();
    const files = [];
    for (const f of input.files) {
      if (!/\.csv$/i.test(f.name)) continue;
      const headers = headerLine(await f.slice(0, 65536).text());
      heads.set(f.name, headers);
      files.push({ file: f.name, headers: headers });
    }
    box.replaceChildren();
    delete form.dataset.mapped;
    if (!files.length) return;
    box.replaceChildren(await ask(files));
    form.dataset.mapped = String(files.length);
  }
  input.addEventListener("change", () => { show().catch((e) => { box.textContent = e.message; }); });
  box.addEventListener("change", async (e) => { // another kind for a file: its mapping again
    if (e.target.name === "map") {
      const row = e.target.closest("tr");
      row.className = "chosen";
      row.querySelector("td.how").textContent = "chosen here";
      return;
    }
    if (!e.target.classList.contains("kind")) return;
    const set = e.target.closest("fieldset"), name = set.dataset.file;
    try {
      const part = await ask([{ file: name, headers: heads.get(name), kind: e.target.value }]);
      set.replaceWith(part);
    } catch (err) { box.textContent = err.message; }
  });
  document.body.addEventListener("htmx:configRequest", (e) => {
    if (e.detail.elt !== form || !e.detail.formData) return;
    const fd = e.detail.formData, maps = fd.getAll("map").filter((m) => m);
    fd.delete("map"); // "kept as it is" sends nothing
    for (const m of maps) fd.append("map", m);
  });
  form.addEventListener("reset", () => { box.replaceChildren(); heads.clear(); });
})();
