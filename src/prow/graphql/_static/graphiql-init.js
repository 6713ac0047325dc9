// prow's own (not vendored): starts GraphiQL with the settings the page carries as JSON,
// so that the page has no inline script.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("prow-graphiql-config").textContent);
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : null;
  }
  var headers = {};
  var token = csrfToken();
  if (token) {
    headers["X-CSRF-Token"] = token;
  }
  var fetcher = GraphiQL.createFetcher({ url: config.url, headers: headers });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery: config.defaultQuery,
    })
  );
})();
