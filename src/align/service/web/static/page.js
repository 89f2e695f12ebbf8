// Every page: requests that change something say they come from the planning room.
(function () {
  "use strict";
  const header = document.body.dataset.pageHeader || "X-Align-Page";
  document.body.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers[header] = "1";
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    const xhr = e.detail.xhr;
    if (xhr && xhr.status >= 400 && e.detail.target) {
      let detail = xhr.statusText;
      try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (_) { /* text */ }
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = detail;
      e.detail.target.replaceChildren(p);
    }
  });
  document.body.dataset.js = "1"; // htmx is loaded and wired: forms post through it
  const compare = document.getElementById("compare");
  if (compare) {
    compare.addEventListener("submit", function () {
      const ids = Array.from(compare.querySelectorAll("input.pick:checked")).map((c) => c.value);
      document.getElementById("compare-runs").value = ids.join(",");
    });
  }
})();
