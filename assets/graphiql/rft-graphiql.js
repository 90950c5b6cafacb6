// Starts GraphiQL against this service's /graphql endpoint. It is a file of its own, not an
// inline <script>, so that the page's Content-Security-Policy can forbid inline script.
// Written for rft-users (not vendored); it runs after react, react-dom and graphiql.min.js,
// which define the globals React, ReactDOM and GraphiQL.
(function () {
  'use strict';

  var DEFAULT_QUERY = [
    '# rft-users GraphQL API.',
    '#',
    '# 1. Log in: run the mutation below (Ctrl-Enter).',
    '# 2. Paste the token in Headers, below:',
    '#    {"Authorization": "Bearer <accessToken>"}',
    '#    (headers are never saved in the browser)',
    '# 3. Then query, e.g. { me { id fullName role } }',
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

  // GraphiQL 3.9 writes each run's headers into its history ("graphiql:queries") and
  // favourites in localStorage even when shouldPersistHeaders is false, which would keep
  // admins' bearer tokens on disk. This storage drops the headers from those two entries
  // on the way in; everything else goes to localStorage unchanged.
  var HISTORY_KEYS = { 'graphiql:queries': 'queries', 'graphiql:favorites': 'favorites' };

  function withoutHeaders(key, value) {
    try {
      var stored = JSON.parse(value);
      var list = stored && stored[HISTORY_KEYS[key]];
      if (Array.isArray(list)) {
        list.forEach(function (entry) {
          if (entry) {
            delete entry.headers;
          }
        });
      }
      return JSON.stringify(stored);
    } catch (e) {
      return value;
    }
  }

  var storage = {
    getItem: function (key) {
      return window.localStorage.getItem(key);
    },
    setItem: function (key, value) {
      window.localStorage.setItem(
        key,
        HISTORY_KEYS[key] ? withoutHeaders(key, value) : value
      );
    },
    removeItem: function (key) {
      window.localStorage.removeItem(key);
    },
    clear: function () {
      Object.keys(window.localStorage).forEach(function (key) {
        if (key.indexOf('graphiql:') === 0) {
          window.localStorage.removeItem(key);
        }
      });
    },
    get length() {
      return Object.keys(window.localStorage).filter(function (key) {
        return key.indexOf('graphiql:') === 0;
      }).length;
    }
  };

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
      shouldPersistHeaders: false,
      storage: storage
    })
  );
})();
