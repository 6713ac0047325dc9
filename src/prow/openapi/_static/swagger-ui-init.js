// prow's own start-up script for Swagger UI (not part of swagger-ui-dist).
//
// The page carries its configuration as inert JSON in <script id="prow-swagger-ui-config">, so
// the HTML needs no inline script and works under a Content-Security-Policy of script-src 'self'.
(function () {
  "use strict";
  var element = document.getElementById("prow-swagger-ui-config");
  var settings = JSON.parse(element.textContent);
  var config = settings.config;
  // Presets are JavaScript objects, so they cannot travel in the JSON.
  config.presets = [SwaggerUIBundle.presets.apis];
  if (config.oauth2RedirectUrl) {
    // OAuth servers need an absolute redirect_uri; resolve a path against this page.
    config.oauth2RedirectUrl = new URL(config.oauth2RedirectUrl, window.location.href).href;
  }
  var ui = SwaggerUIBundle(config);
  if (settings.initOAuth) {
    ui.initOAuth(settings.initOAuth);
  }
  window.ui = ui;
})();
