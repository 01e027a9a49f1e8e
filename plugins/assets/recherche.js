// Start Pagefind's interface on the search page; "?q=" comes from the search forms of other pages.
window.addEventListener("DOMContentLoaded", function () {
  var ui = new PagefindUI({
    element: "#recherche",
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
