// Map of member MSP: markers from msp.geojson over the departments' outline shipped with the site.
// Both come from the site itself: no tile is fetched until the reader asks for the base map.
(function () {
  var box = document.getElementById("carte");
  if (!box || !window.L) { return; }
  box.hidden = false;
  addStyles();
  var map = L.map(box, { scrollWheelZoom: false, attributionControl: true, zoomSnap: 0.25 });
  map.createPane("fed-etiquettes").style.zIndex = 450;  // department names over the outline, under the pins
  var markers = L.featureGroup().addTo(map);
  var select = document.getElementById("departement");
  var features = [];
  var region = {};  // INSEE code → outline of each department of the region

  // The outline's colours follow the site's colour scheme: CSS variables, so a switch of scheme repaints it.
  function addStyles() {
    if (document.getElementById("fed-map-styles")) { return; }
    var style = document.createElement("style");
    style.id = "fed-map-styles";
    style.textContent = [
      ".fed-map.leaflet-container { background: #d5e4ea; }",
      "[data-md-color-scheme=slate] .fed-map.leaflet-container { background: #15232b; }",
      ".fed-map-dep { fill: var(--md-default-bg-color); fill-opacity: 1; stroke: #b3bec4; stroke-opacity: 1; }",
      "[data-md-color-scheme=slate] .fed-map-dep { stroke: #4d5966; }",
      ".fed-map-dep--voisin { stroke: #8d9aa2; }",
      "[data-md-color-scheme=slate] .fed-map-dep--voisin { stroke: #6b7886; }",
      ".fed-map-dep--region { fill: color-mix(in srgb, var(--md-primary-fg-color) 9%, var(--md-default-bg-color));" +
        " stroke: var(--md-typeset-a-color); }",
      "[data-md-color-scheme=slate] .fed-map-dep--region {" +
        " fill: color-mix(in srgb, var(--md-primary-fg-color) 30%, var(--md-default-bg-color)); }",
      ".fed-map-dep--choisi { fill: color-mix(in srgb, var(--md-primary-fg-color) 22%, var(--md-default-bg-color)); }",
      "[data-md-color-scheme=slate] .fed-map-dep--choisi {" +
        " fill: color-mix(in srgb, var(--md-primary-fg-color) 55%, var(--md-default-bg-color)); }",
      // Over the base map, the outline is only the region's borders: the tiles draw the land.
      ".fed-map--fond .fed-map-dep { fill-opacity: 0; }",
      ".fed-map--fond .fed-map-dep--voisin, .fed-map--fond .fed-map-dep--france { stroke-opacity: 0; }",
      ".leaflet-tooltip.fed-map-label { background: none; border: 0; box-shadow: none; padding: 0;" +
        " color: var(--md-typeset-a-color); font: 700 .6rem/1.2 var(--md-text-font-family, sans-serif);" +
        " letter-spacing: .04em; text-transform: uppercase;" +
        " text-shadow: 0 0 3px var(--md-default-bg-color), 0 0 3px var(--md-default-bg-color), 0 0 2px var(--md-default-bg-color); }",
      ".fed-map--loin .fed-map-label { display: none; }"
    ].join("\n");
    document.head.appendChild(style);
  }

  // The GeoJSON holds editors' text: it goes into the popup as text nodes, never as HTML.
  function popup(properties) {
    var content = document.createElement("div");
    var link = document.createElement("a");
    link.href = properties.url;
    link.textContent = properties.name;
    content.append(link, document.createElement("br"), properties.communes.join(", "));
    return content;
  }

  function label(properties) {
    var name = document.createElement("span");
    name.textContent = properties.nom;
    var at = properties.etiquette;
    L.tooltip({ pane: "fed-etiquettes", permanent: true, direction: "center", className: "fed-map-label" })
      .setLatLng([at[1], at[0]]).setContent(name).addTo(map);
  }

  function drawOutline(data) {
    L.geoJSON(data, {
      interactive: false,
      attribution: "Départements : <a href=\"https://www.naturalearthdata.com/\">Natural Earth</a>",
      style: function (f) {
        var inRegion = f.properties.niveau === "region";
        return { className: "fed-map-dep fed-map-dep--" + f.properties.niveau, weight: inRegion ? 1.5 : 0.8 };
      },
      onEachFeature: function (f, layer) {
        if (f.properties.niveau !== "region") { return; }
        region[f.properties.code] = layer;
        label(f.properties);
      }
    }).addTo(map);
  }

  // The whole region, or the chosen department, with its pins: the reader sees where they are.
  function frame(department) {
    var bounds = L.latLngBounds([]);
    Object.keys(region).forEach(function (code) {
      if (!department || code === department) { bounds.extend(region[code].getBounds()); }
    });
    if (!bounds.isValid() && markers.getLayers().length) { bounds = markers.getBounds().pad(0.2); }
    if (markers.getLayers().length) { bounds.extend(markers.getBounds()); }
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [8, 8], maxZoom: 11 }); }
  }

  function show(department) {
    markers.clearLayers();
    features.forEach(function (f) {
      if (department && f.properties.department !== department) { return; }
      var c = f.geometry.coordinates;
      L.marker([c[1], c[0]], { title: f.properties.name, alt: f.properties.name })
        .bindPopup(popup(f.properties))
        .addTo(markers);
    });
    Object.keys(region).forEach(function (code) {
      var path = region[code].getElement();
      if (path) { path.classList.toggle("fed-map-dep--choisi", code === department); }
    });
    frame(department);
    document.querySelectorAll("#liste-msp [data-department]").forEach(function (section) {
      section.hidden = Boolean(department) && section.dataset.department !== department;
    });
  }

  // A file that fails to load gives null: without its outline, the map still shows the pins.
  function json(url) {
    if (!url) { return Promise.resolve(null); }
    return fetch(url).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
  }

  Promise.all([json(box.dataset.geojson), json(box.dataset.outline)]).then(function (loaded) {
    if (loaded[1]) { drawOutline(loaded[1]); }
    features = loaded[0] ? loaded[0].features : [];
    show(select.value);
  });
  select.addEventListener("change", function () { show(select.value); });
  // The filter acts at once: its form never loads a page (no inline handler, which the CSP forbids).
  select.form.addEventListener("submit", function (event) { event.preventDefault(); });
  // Zoomed out (a phone shows the whole region at about 7), the names would run into each other.
  map.on("zoomend", function () { box.classList.toggle("fed-map--loin", map.getZoom() < 7.5); });

  var consent = document.getElementById("carte-fond");
  if (consent && box.dataset.tiles) {
    consent.hidden = false;
    consent.querySelector("button").addEventListener("click", function () {
      L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution, maxZoom: 18 }).addTo(map);
      box.classList.add("fed-map--fond");
      consent.hidden = true;
    });
  }
}());
