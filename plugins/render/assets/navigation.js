// Keyboard access to Material's navigation drawer on narrow screens (phones, or a desktop zoomed in).
// Material opens it with a <label for="__drawer">, which the keyboard cannot reach, and leaves the
// off-screen links in the tab order, where focus becomes invisible. This makes the label a button
// and keeps the closed drawer out of the tab order.
(function () {
  var toggle = document.getElementById("__drawer");
  var drawer = document.querySelector(".md-sidebar--primary");
  var button = document.querySelector(".md-header label[for='__drawer']");
  if (!toggle || !drawer || !button) { return; }
  var narrow = window.matchMedia("(max-width: 76.234375em)");

  button.setAttribute("role", "button");
  button.setAttribute("tabindex", "0");
  button.setAttribute("aria-label", "Menu");
  button.setAttribute("aria-controls", "fed-drawer");
  drawer.id = drawer.id || "fed-drawer";

  function sync() {
    button.setAttribute("aria-expanded", toggle.checked ? "true" : "false");
    if (narrow.matches && !toggle.checked) {
      drawer.setAttribute("inert", "");
    } else {
      drawer.removeAttribute("inert");
    }
  }

  function setOpen(open) {
    if (toggle.checked !== open) { toggle.click(); }
    sync();
  }

  button.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") { return; }
    event.preventDefault();
    setOpen(!toggle.checked);
    if (toggle.checked) {
      var first = drawer.querySelector("a[href], label[tabindex]");
      if (first) { first.focus(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && narrow.matches && toggle.checked) {
      setOpen(false);
      button.focus();
    }
  });
  drawer.addEventListener("focusout", function (event) {
    if (narrow.matches && toggle.checked && event.relatedTarget && !drawer.contains(event.relatedTarget)) {
      setOpen(false);
    }
  });
  toggle.addEventListener("change", sync);
  narrow.addEventListener("change", sync);
  sync();
})();
