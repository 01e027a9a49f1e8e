// Start Pagefind's interface on the search page; "?q=" comes from the search forms of other pages.
// The site's search bundles come from the page (plan.search_bundles): the first one, and the others merged in.
window.addEventListener("DOMContentLoaded", function () {
  var bundles = document.getElementById("recherche").getAttribute("data-bundles").split(" ").filter(Boolean)
    .map(function (path) { return new URL(path, document.baseURI).pathname; });
  if (!bundles.length || typeof PagefindUI === "undefined") { return; }
  var ui = new PagefindUI({
    element: "#recherche",
    bundlePath: bundles[0],
    mergeIndex: bundles.slice(1).map(function (path) { return { bundlePath: path }; }),
    showSubResults: true,
    showImages: false,
    resetStyles: false,
    // Beside the results on wide screens; on phones the filters are pills above them, all closed.
    openFilters: window.matchMedia("(min-width: 40em)").matches ? ["Rubrique"] : [],
    translations: { placeholder: "Rechercher (ex. : protocole, infirmier, Nantes)" }
  });
  // Pagefind's field only has a title: give it a real accessible name.
  (function label() {
    var input = document.querySelector("#recherche .pagefind-ui__search-input");
    if (!input) { return window.requestAnimationFrame(label); }
    input.setAttribute("aria-label", "Rechercher sur le site");
  }());
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { ui.triggerSearch(query); }
});
