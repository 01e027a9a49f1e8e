// Start Pagefind's interface on the search page; "?q=" comes from the search forms of other pages.
// The site's search bundles come from the page (plan.search_bundles); the interface searches them through
// assets/recherche/pagefind.js, which leaves out a bundle that only found the beginning of a word searched.
//
// Every bundle's filters are loaded before the interface starts: Pagefind UI 1.5 asks for the filters without
// waiting and then shows the filters its first search counted, and a search counts only the filters already
// loaded. On a slow machine a whole filter (« Département ») went missing. The interface imports the same
// module (same URL), so it finds the bundles ready.
var searchModule = new URL("recherche/", document.currentScript.src).pathname;
window.addEventListener("DOMContentLoaded", function () {
  var bundles = document.getElementById("recherche").getAttribute("data-bundles").split(" ").filter(Boolean)
    .map(function (path) { return new URL(path, document.baseURI).pathname; });
  if (!bundles.length || typeof PagefindUI === "undefined") { return; }

  function start() {
    var ui = new PagefindUI({
      element: "#recherche",
      bundlePath: searchModule,
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
  }

  import(searchModule + "pagefind.js").then(function (pagefind) {
    return pagefind.filters();
  }).catch(function (error) {
    console.error(error);
  }).then(start);
});
