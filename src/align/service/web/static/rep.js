// A rep's territory plan: a small map of its accounts and home base; a print button.
(function () {
  "use strict";
  document.getElementById("print").addEventListener("click", () => window.print());
  const box = document.getElementById("rep-map");
  const data = JSON.parse(document.getElementById("rep-points").textContent);
  if (!box.dataset.coordinates || !data.points.length) { box.remove(); return; }
  const latlon = box.dataset.coordinates === "latlon";
  const map = L.map(box, { preferCanvas: true, attributionControl: false, zoomControl: false,
    crs: latlon ? L.CRS.EPSG3857 : L.CRS.Simple, minZoom: latlon ? 2 : -5 });
  const bounds = L.latLngBounds(data.points);
  if (latlon) {
    fetch(box.dataset.states).then((r) => r.json()).then((topo) => {
      L.geoJSON(topojson.feature(topo, topo.objects.states),
        { style: { color: "#8a94a0", weight: 0.8, fill: false }, interactive: false }).addTo(map).bringToBack();
    });
  }
  for (const p of data.points) L.circleMarker(p, { radius: 4, weight: 0.5, color: "#1f77b4", fillOpacity: 0.85 }).addTo(map);
  if (data.home) {
    L.circleMarker(data.home, { radius: 8, color: "#000", weight: 2.5, fillColor: "#1f77b4", fillOpacity: 1 }).addTo(map);
    bounds.extend(data.home);
  }
  map.fitBounds(bounds.pad(0.1));
  document.body.dataset.repReady = "1";
})();
