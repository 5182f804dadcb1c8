// The staff notice page while its copies go out: every few seconds the page is fetched
// again and its changing parts ([data-live], matched by id) take the new content in
// place, until every copy is settled. In place rather than a reload (<meta
// http-equiv="refresh">): a reload every few seconds takes a screen reader or keyboard
// user back to the top of the page each time (WCAG 2.2.1), while the status line, a live
// region that stays in the page, announces the new counts. Without JavaScript the page
// still works; it says to reload it.
(function () {
  "use strict";
  var marker = document.querySelector("[data-refresh-seconds]");
  if (!marker || !window.fetch || !window.DOMParser) {
    return;
  }
  var delay = (Number(marker.getAttribute("data-refresh-seconds")) || 5) * 1000;

  // Returns whether to look again: copies still going out, or a part left stale because
  // the person is in it (a focused link or table).
  function update(fresh) {
    var stale = false;
    document.querySelectorAll("[data-live]").forEach(function (part) {
      var replacement = fresh.getElementById(part.id);
      if (!replacement || part.innerHTML === replacement.innerHTML) {
        return;
      }
      if (part.contains(document.activeElement)) {
        stale = true;
        return;
      }
      part.innerHTML = replacement.innerHTML;
    });
    return stale || fresh.querySelector("[data-refresh-seconds]") !== null;
  }

  function poll() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        // Signed out meanwhile (a redirect to the sign-in page), or the notice is gone.
        if (!response.ok || response.redirected) {
          return false;
        }
        return response.text().then(function (html) {
          return update(new DOMParser().parseFromString(html, "text/html"));
        });
      })
      // The server is away for a moment (a restart): look again later.
      .catch(function () {
        return true;
      })
      .then(function (again) {
        if (again) {
          window.setTimeout(poll, delay);
        } else {
          marker.removeAttribute("data-refresh-seconds");
        }
      });
  }

  window.setTimeout(poll, delay);
})();
