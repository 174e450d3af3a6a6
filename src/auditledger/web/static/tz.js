// Remember the browser's time zone in a cookie so the server renders times in it.
// Without JavaScript, pages show UTC (and the form's time zone choice still works).
(function () {
  "use strict";
  var name = "auditledger_tz";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
    return;
  }
  var current = document.cookie.split("; ").filter(function (c) {
    return c.indexOf(name + "=") === 0;
  })[0];
  var stored = current ? current.slice(name.length + 1) : null;
  if (stored === zone) {
    return;
  }
  // Zone names are cookie-safe as they are (checked above); no encoding for the server to undo.
  document.cookie = name + "=" + zone + "; path=/; max-age=31536000; samesite=lax";
  // First visit: show this page in the viewer's zone too, unless the URL already names a zone
  // or cookies are refused (which would reload forever).
  var stuck = document.cookie.indexOf(name + "=") === -1;
  var named = /[?&]tz=/.test(window.location.search);
  var table = document.querySelector("time[datetime]");
  if (!stored && !stuck && !named && table && zone !== "UTC") {
    window.location.reload();
  }
})();
