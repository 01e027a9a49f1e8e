// Load a story's video player only when the reader asks for it.
document.querySelectorAll(".fed-video[data-embed]").forEach(function (figure) {
  var button = figure.querySelector(".fed-video__play");
  if (!button || !figure.dataset.embed) { return; }
  button.addEventListener("click", function () {
    var frame = document.createElement("iframe");
    frame.src = figure.dataset.embed;
    frame.title = figure.dataset.title;
    frame.allow = "autoplay; encrypted-media; picture-in-picture; fullscreen";
    frame.setAttribute("allowfullscreen", "");
    figure.querySelector(".fed-video__poster").replaceWith(frame);
    button.remove();
    frame.focus();
  });
});
