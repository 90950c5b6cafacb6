// Starts GraphiQL against this service's /graphql endpoint. It is a file of its own, not an
// inline <script>, so that the page's Content-Security-Policy can forbid inline script.
// Written for rft-users (not vendored); it runs after react, react-dom and graphiql.min.js,
// which define the globals React, ReactDOM and GraphiQL.
(function () {
  'use strict';

  var DEFAULT_QUERY = [
    '# rft-users GraphQL API.',
    '#',
    '# 1. Log in with the mutation below (press the run button, or Ctrl-Enter).',
    '# 2. Open the Headers tab underneath and paste the access token:',
    '#      {"Authorization": "Bearer <accessToken>"}',
    '#    Headers are kept for this tab only, never written to browser storage.',
    '# 3. Replace this with your query, e.g. { me { id fullName role } }',
    '',
    'mutation Login {',
    '  login(email: "you@example.com", password: "") {',
    '    accessToken',
    '    expiresAt',
    '    user { id fullName role }',
    '  }',
    '}',
    ''
  ].join('\n');

  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      // Admins paste bearer tokens here, so show the headers editor from the start ...
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      // ... and never persist them to localStorage, where they would outlive the session.
      shouldPersistHeaders: false
    })
  );
})();
