// Helios admin: a little plain JavaScript, served from the app itself (no CDN).
// 1. Forms and buttons marked data-confirm ask before a destructive action.
// 2. An element with data-progress-url polls a running job and reloads the page when it ends.
// 3. An invitation link's token (in the fragment, never sent to the server) fills its form.
"use strict";

document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) ||
    (form.getAttribute && form.getAttribute("data-confirm"));
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

function pollProgress(box) {
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        if (job.percent !== null && bar) { bar.value = job.percent; }
        if (text) { text.textContent = job.text; }
        if (job.finished) { window.location.reload(); } else { window.setTimeout(tick, 500); }
      })
      .catch(function () { window.setTimeout(tick, 2000); });
  }
  tick();
}

function fillFragmentToken() {
  var field = document.querySelector("[data-fragment-token]");
  var found = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!field || !found) { return; }
  field.value = decodeURIComponent(found[1]);
  var box = document.querySelector("[data-fragment-token-box]");
  if (box) { box.hidden = true; }
  // Out of the address bar (and the history) once it is in the form.
  window.history.replaceState(null, "", window.location.pathname);
}

document.addEventListener("DOMContentLoaded", function () {
  fillFragmentToken();
  var boxes = document.querySelectorAll("[data-progress-url]");
  for (var i = 0; i < boxes.length; i++) { pollProgress(boxes[i]); }
});
