// Starts Swagger UI on /docs from a file, not an inline script, so a strict Content-Security-Policy holds.
// The OpenAPI URL comes from the page (data-openapi-url), which apidocs.py fills in.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
