/* Starts the interactive API reference (Swagger UI) on /api/v1/docs.
 *
 * A file of its own, served by PatronAuth: the Content-Security-Policy allows no
 * inline script. The page says where the OpenAPI document is (data-openapi), so this
 * script names no address; nothing is fetched from another origin (no validator badge).
 */
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-openapi"),
      domNode: root,
      deepLinking: true,
      validatorUrl: null,
      tryItOutEnabled: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
