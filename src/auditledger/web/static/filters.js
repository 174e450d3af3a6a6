// The model version list follows the model choice at once: when a model is picked, its
// versions are read from the models API (the page's own session) and offered. Without
// JavaScript the form still works: "Apply filters" reloads the page with the versions listed.
(function () {
  "use strict";
  var model = document.getElementById("f-model");
  var version = document.getElementById("f-version");
  if (!model || !version || !model.dataset.versionsUrl) {
    return;
  }
  var hint = document.getElementById("f-version-hint");
  function reset(text, disabled) {
    while (version.options.length) {
      version.remove(0);
    }
    version.add(new Option(text, ""));
    version.disabled = disabled;
    version.name = "model_version";
  }
  model.addEventListener("change", function () {
    var chosen = model.value;
    if (!chosen) {
      reset("Pick a model first", true);
      if (hint) { hint.hidden = false; }
      return;
    }
    reset("Loading versions…", true);
    fetch(model.dataset.versionsUrl + encodeURIComponent(chosen), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        if (model.value !== chosen) { return; } // another model was picked meanwhile
        reset("Any version", false);
        (body.versions || []).forEach(function (v) {
          version.add(new Option(v.name || v.id, v.id));
        });
        if (hint) { hint.hidden = true; }
      })
      .catch(function () {
        reset("Versions appear after Apply", true);
      });
  });
})();
