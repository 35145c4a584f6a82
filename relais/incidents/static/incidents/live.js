// Live updates of the incident, template and publication pages: the server's "incident"
// and "publication" events become DOM events that htmx elements listen to.
(function () {
  "use strict";
  function fire(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }
  function connect() {
    if (!document.querySelector("[data-live-incidents]") || !window.EventSource) return;
    var source = new EventSource("/events/");
    source.addEventListener("incident", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:incidents", data);
      fire("relais:incident-" + data.incident_id, data);
    });
    source.addEventListener("publication", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:publication-" + data.publication_id, data);
      if (data.incident_id) fire("relais:incident-" + data.incident_id, data);
    });
    source.onopen = function () { document.body.classList.remove("offline"); };
    source.onerror = function () { document.body.classList.add("offline"); };
  }
  document.addEventListener("DOMContentLoaded", connect);

  // The one-click page's line filter: chips whose name starts with what is typed (checked
  // ones always stay in sight).
  document.addEventListener("input", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[data-filter]")) return;
    var query = input.value.trim().toLowerCase();
    document.querySelectorAll(input.dataset.filter + " label").forEach(function (label) {
      var box = label.querySelector("input");
      var name = label.textContent.trim().toLowerCase();
      label.hidden = !!query && !(box && box.checked) && name.indexOf(query) !== 0;
    });
  });
})();
