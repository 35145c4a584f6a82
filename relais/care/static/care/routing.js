// Saved replies: "Use" copies the filled text into the composer (the agent still reads and
// sends it); typing "/shortcut" at the start of the composer searches the saved replies.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-use-reply]");
    if (!button) return;
    var textarea = document.getElementById("reply-text");
    var hidden = document.getElementById("reply-template");
    if (!textarea) return;
    textarea.value = button.dataset.text;
    if (hidden) hidden.value = button.dataset.templateId;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  });
  document.addEventListener("input", function (e) {
    if (!e.target || e.target.id !== "reply-text") return;
    var value = e.target.value;
    var search = document.getElementById("saved-reply-q");
    if (!search) return;
    if (/^\/\S*$/.test(value)) {
      search.value = value;
      search.closest("details").open = true;
      if (window.htmx) window.htmx.trigger(search, "search");
    } else if (value === "") {
      var hidden = document.getElementById("reply-template");
      if (hidden) hidden.value = "";
    }
  });
})();
