// mastlens review: keyboard shortcuts and expandable steps. The pages work without this file (plain forms).
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) {
    // The queue page: n opens the next trace to do.
    var start = document.getElementById("start");
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (start && event.key === "n" && !event.ctrlKey && !event.metaKey && !event.altKey &&
          !(target && (target.tagName === "INPUT" || target.tagName === "SELECT"))) {
        event.preventDefault();
        window.location.assign(start.getAttribute("href"));
      }
    });
    return;
  }
  var modes = Array.prototype.slice.call(form.querySelectorAll("fieldset.mode"));
  var current = 0;

  function select(index) {
    if (!modes.length) { return; }
    current = Math.max(0, Math.min(modes.length - 1, index));
    modes.forEach(function (m, i) { m.classList.toggle("selected", i === current); });
    modes[current].scrollIntoView({block: "nearest"});
  }

  function choose(value) {
    var radio = modes[current].querySelector("input[type=radio][value='" + value + "']");
    if (radio) { radio.checked = true; }
  }

  function typing(target) {
    return target && (target.tagName === "INPUT" && target.type !== "radio" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT");
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var next = document.getElementById("next-link");
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "p": choose("present"); break;
      case "a": choose("absent"); break;
      case "u": choose("not_assessed"); break;
      case "e": modes[current].querySelector(".note-input").focus(); break;
      case "s": form.requestSubmit(); break;
      case "n": if (next) { window.location.assign(next.getAttribute("href")); } break;
      default: return;
    }
    event.preventDefault();
  });

  modes.forEach(function (m, i) {
    m.addEventListener("click", function () { select(i); });
  });

  document.querySelectorAll("button.step-pick").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = modes[current].querySelector(".step-input");
      field.value = button.getAttribute("data-step");
      modes[current].classList.add("picked");
    });
  });

  document.querySelectorAll("a.expand").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var target = document.getElementById(link.getAttribute("data-target"));
      fetch(link.getAttribute("href"), {credentials: "same-origin"}).then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.text();
      }).then(function (text) {
        target.textContent = text;  // text, never markup
        target.classList.add("expanded");
        link.remove();
      }).catch(function (err) {
        link.textContent = "could not load the full text (" + err.message + "); open the link instead";
      });
    });
  });

  select(0);
}());
