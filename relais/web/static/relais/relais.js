// Relais: the little JavaScript the pages need. Live events (server-sent events) become DOM
// events that htmx elements listen to; the composer counts characters as the network does.
(function () {
  "use strict";

  function fire(name, detail) {
    document.body.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function connect() {
    if (!document.querySelector("[data-live]") || !window.EventSource) return;
    var source = new EventSource("/events/");
    source.addEventListener("inbox", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:inbox", data);
      (data.conversation_ids || []).forEach(function (id) { fire("relais:conversation-" + id, data); });
    });
    source.addEventListener("conversation", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:conversation", data);
      fire("relais:conversation-" + data.conversation_id, data);
    });
    source.addEventListener("delivery", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:conversation-" + data.conversation_id, data);
    });
    source.addEventListener("presence", function (e) {
      var data = JSON.parse(e.data);
      fire("relais:presence-" + data.conversation_id, data);
    });
    source.onopen = function () { document.body.classList.remove("offline"); };
    source.onerror = function () { document.body.classList.add("offline"); };
  }

  // Networks count characters (code points), not UTF-16 units: so do we.
  function count(textarea) {
    var limit = parseInt(textarea.dataset.limit, 10);
    var length = Array.from(textarea.value).length;
    var counter = document.querySelector('[data-counter-for="' + textarea.id + '"]');
    if (counter) {
      counter.textContent = length + " / " + limit;
      counter.classList.toggle("over", length > limit);
    }
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("textarea[data-limit]")) count(e.target);
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-reset-on-success]")) return;
    var xhr = e.detail.xhr;
    if (e.detail.successful && !xhr.getResponseHeader("X-Relais-Error")) {
      form.reset();
      var errors = document.getElementById("composer-error");
      if (errors) errors.innerHTML = "";
      form.querySelectorAll("textarea[data-limit]").forEach(count);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    connect();
    document.querySelectorAll("textarea[data-limit]").forEach(count);
  });

  // Tell the others we left, so their collision warning clears.
  window.addEventListener("pagehide", function () {
    var section = document.querySelector("[data-live=conversation]");
    var token = document.querySelector("meta[name=csrf-token]");
    if (!section || !token || !navigator.sendBeacon) return;
    var body = new FormData();
    body.append("leave", "1");
    body.append("csrfmiddlewaretoken", token.content);
    navigator.sendBeacon("/inbox/c/" + section.dataset.conversation + "/presence/", body);
  });
})();
