// Start Pagefind's interface on the search page; "?q=" comes from the search forms of other pages.
window.addEventListener("DOMContentLoaded", function () {
  var ui = new PagefindUI({
    element: "#recherche",
    showSubResults: true,
    showImages: false,
    resetStyles: false,
    openFilters: ["Rubrique"],
    translations: { placeholder: "Rechercher (ex. : protocole, infirmier, Nantes)" }
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { ui.triggerSearch(query); }
});
