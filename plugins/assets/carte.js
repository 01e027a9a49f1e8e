// Map of member MSP: markers from msp.geojson, no tile fetched until the reader asks for the base map.
(function () {
  var box = document.getElementById("carte");
  if (!box || !window.L) { return; }
  box.hidden = false;
  var map = L.map(box, { scrollWheelZoom: false, attributionControl: true });
  var markers = L.featureGroup().addTo(map);
  var select = document.getElementById("departement");
  var features = [];

  // The GeoJSON holds editors' text: it goes into the popup as text nodes, never as HTML.
  function popup(properties) {
    var content = document.createElement("div");
    var link = document.createElement("a");
    link.href = properties.url;
    link.textContent = properties.name;
    content.append(link, document.createElement("br"), properties.communes.join(", "));
    return content;
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
    if (markers.getLayers().length) { map.fitBounds(markers.getBounds().pad(0.2), { maxZoom: 11 }); }
    document.querySelectorAll("#liste-msp [data-department]").forEach(function (section) {
      section.hidden = Boolean(department) && section.dataset.department !== department;
    });
  }

  fetch(box.dataset.geojson).then(function (r) { return r.json(); }).then(function (data) {
    features = data.features;
    show(select.value);
  });
  select.addEventListener("change", function () { show(select.value); });

  var consent = document.getElementById("carte-fond");
  if (consent && box.dataset.tiles) {
    consent.hidden = false;
    consent.querySelector("button").addEventListener("click", function () {
      L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution, maxZoom: 18 }).addTo(map);
      consent.hidden = true;
    });
  }
}());
