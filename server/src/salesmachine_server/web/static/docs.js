/* /docs: Swagger UI (vendored in /static/vendor/, see server/web-vendor/vendor.sh) drawing this
 * server's /openapi.json. A file rather than an inline script, so that the page's CSP can allow
 * scripts from this server only. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Operations listed one line each under their tag (the contents), opened on a click; the
    // address follows what is open, so a link can point at one operation (/docs#/read/get_revenue).
    docExpansion: "list",
    deepLinking: true,
    filter: true,
    defaultModelsExpandDepth: 0,
    // Swagger UI would otherwise send the description to validator.swagger.io for a badge.
    validatorUrl: null
  });
}());
