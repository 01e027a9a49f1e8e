// Map of member MSP: markers from msp.geojson, no tile fetched until the reader asks for the base map.
(function () {
  var box = document.getElementById("carte");
  if (!box || !window.L) { return; }
  box.hidden = false;
  var map = L.map(box, { scrollWheelZoom: false, attributionControl: true });
  var markers = L.featureGroup().addTo(map);
  var select = document.getElementById("departement");
  var features = [];

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function show(department) {
    markers.clearLayers();
    features.forEach(function (f) {
      if (department && f.properties.department !== department) { return; }
      var c = f.geometry.coordinates;
      L.marker([c[1], c[0]], { title: f.properties.name, alt: f.properties.name })
        .bindPopup('<a href="' + escape(f.properties.url) + '">' + escape(f.properties.name) + "</a><br>" + escape(f.properties.communes.join(", ")))
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
