// Listening live events on every page: a burst alert for me shows a bar (and a browser
// notification when allowed); crisis mode switched elsewhere reloads the banner.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var box = document.getElementById("listening-live");
  if (!box) return;
  var me = parseInt(box.dataset.userId || "0", 10);
  var source = new EventSource("/events/");

  source.addEventListener("listening_alert", function (e) {
    var data = JSON.parse(e.data);
    if (me && data.user_ids.indexOf(me) < 0) return;
    var link = document.createElement("a");
    link.href = data.url;
    link.textContent = box.dataset.textAlert + ": " + data.monitor;
    box.textContent = "";
    box.appendChild(link);
    box.hidden = false;
    box.className = "listening-alerts flash";
    if (window.Notification && Notification.permission === "granted") {
      new Notification(box.dataset.textAlert, { body: data.monitor });
    }
  });
  source.addEventListener("crisis", function () { window.location.reload(); });
})();
