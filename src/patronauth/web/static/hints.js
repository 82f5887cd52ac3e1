/* Live hints while a new password or PIN is typed: a progressive enhancement.
 *
 * The form works the same without this script. It asks the policy check (the rules the
 * server applies on submit) and shows what is still missing. Each page names its own
 * check (data-policy-check), bound to the signed-in patron's session or to the e-mailed
 * link, which knows the patron's words (card number, name...), and is sent the form's
 * CSRF token. When the check fails or cannot be reached, the hints simply stay hidden.
 */
(function () {
  "use strict";

  function messages() {
    var node = document.getElementById("policy-messages");
    if (!node) { return {}; }
    try { return JSON.parse(node.textContent || "{}"); } catch (e) { return {}; }
  }

  function setUp(form) {
    var input = form.querySelector("[data-policy-input]");
    var box = input && document.getElementById(input.id + "-hints");
    if (!input || !box || !window.fetch || !window.JSON) { return; }
    var texts = messages();
    var timer = null;
    var sequence = 0;

    function hide() {
      box.hidden = true;
      box.textContent = "";
    }

    function show(result) {
      box.textContent = "";
      if (result.ok) {
        var ok = document.createElement("p");
        ok.className = "live-hints__ok";
        ok.textContent = box.getAttribute("data-ok") || "\u2713";
        box.appendChild(ok);
      } else {
        var list = document.createElement("ul");
        (result.violations || []).forEach(function (violation) {
          var item = document.createElement("li");
          item.textContent = texts[violation.code] || violation.message || violation.code;
          list.appendChild(item);
        });
        box.appendChild(list);
      }
      box.hidden = false;
    }

    function check() {
      var secret = input.value;
      var mine = ++sequence;
      if (!secret) { hide(); return; }
      var token = form.querySelector("input[name=csrftoken]");
      window.fetch(form.getAttribute("data-policy-check"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          "Accept": "application/json",
          "Accept-Language": document.documentElement.lang || "en"
        },
        body: new URLSearchParams({
          csrftoken: token ? token.value : "",
          credential: form.getAttribute("data-credential"),
          secret: secret
        }).toString()
      }).then(function (response) {
        if (!response.ok) { throw new Error("policy check unavailable"); }
        return response.json();
      }).then(function (result) {
        if (mine !== sequence) { return; }
        if (!result || typeof result.ok !== "boolean") { throw new Error("unexpected answer"); }
        show(result);
      }).catch(function () {
        if (mine === sequence) { hide(); }
      });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 250);
    });
  }

  var forms = document.querySelectorAll("form[data-policy-check]");
  for (var i = 0; i < forms.length; i++) { setUp(forms[i]); }
}());
