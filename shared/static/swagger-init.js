// Starts Swagger UI on /docs (a file, not an inline script: the page's Content-Security-Policy
// allows scripts from the platform's own files only).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // no badge from validator.swagger.io: nothing is fetched from outside the platform
    validatorUrl: null,
  });
});
