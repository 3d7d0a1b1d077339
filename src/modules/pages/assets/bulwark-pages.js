// The script of Bulwark's built-in pages (verify email, reset password, accept invitation, undo an
// email change). Served as a file so the pages' CSP can forbid inline script. It reads the token
// from the link, takes it out of the address bar, and posts it with the form's fields to the API
// route the form names in data-api; the answer is shown in the status line.
"use strict";
(function () {
  var form = document.getElementById("form");
  var status = document.getElementById("status");
  if (!form || !status) return;
  var params = new URLSearchParams(window.location.search);
  var token = params.get("token") || new URLSearchParams(window.location.hash.slice(1)).get("token");
  // The token is a credential: keep it out of the history and anything the page might later share.
  if (window.history && window.history.replaceState) window.history.replaceState(null, "", window.location.pathname);

  function say(text, kind) {
    status.textContent = text;
    status.className = kind || "";
    status.focus();
  }

  if (!token) {
    form.hidden = true;
    say("This link is incomplete. Open the link from the mail again, or ask for a new mail.", "error");
    return;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = { token: token };
    var fields = form.querySelectorAll("input[name]");
    for (var i = 0; i < fields.length; i++) body[fields[i].name] = fields[i].value;
    var repeat = form.querySelector("input[data-repeat]");
    if (repeat && repeat.value !== body[repeat.getAttribute("data-repeat")]) {
      say("The two passwords differ. Type the same password twice.", "error");
      repeat.focus();
      return;
    }
    if (repeat) delete body[repeat.name];
    var button = form.querySelector("button");
    button.disabled = true;
    say("Working…");
    fetch(form.getAttribute("data-api"), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(function (response) {
      if (response.ok) {
        form.hidden = true;
        say(form.getAttribute("data-done"), "done");
        return;
      }
      return response.json().then(function (answer) {
        var error = (answer && answer.error) || {};
        var details = (error.details || []).map(function (d) { return d.path + " " + d.message; }).join("; ");
        say((error.message || "Something went wrong.") + (details ? " (" + details + ")" : ""), "error");
      }, function () {
        say("Something went wrong (" + response.status + "). Try again in a moment.", "error");
      }).then(function () { button.disabled = false; });
    }, function () {
      button.disabled = false;
      say("The server could not be reached. Check your connection and try again.", "error");
    });
  });
})();
