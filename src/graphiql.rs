//! The GraphiQL playground at `GET /graphql`, served from the binary itself: the page, the
//! vendored React and GraphiQL builds (`assets/graphiql/`, whose README names each
//! package, its version and licence) and the small script that starts them. Nothing is
//! loaded from another host, and the page's Content-Security-Policy allows only this
//! origin plus the few exceptions GraphiQL needs.

use std::sync::LazyLock;

use axum::{
    Router,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};

/// The page's Content-Security-Policy: `'self'` for everything, no inline or `eval`ed
/// script, no inline `style` attributes, no plugins, no framing, no `<base>` or form
/// targets. The exceptions, each checked by driving the page in headless Chromium (run a
/// query, docs, history, settings and shortcut dialogs, autocompletion, lint and field
/// tooltips) under a stricter policy and reading the violations it reported:
/// - `style-src-elem 'unsafe-inline'`: opening a dialog inserts a `<style>` element
///   (react-remove-scroll's scroll lock, contents computed at run time, so no hash). It
///   admits `<style>` elements only; `style` attributes stay blocked by `style-src 'self'`
///   (GraphiQL and CodeMirror set styles through the DOM, which CSP allows). A browser
///   without `style-src-elem` falls back to `style-src 'self'` and merely skips the lock.
/// - `font-src data:`: graphiql.min.css embeds its fonts (Roboto, Fira Code) as `data:`
///   URLs; without it Chromium refused all 34 of them.
/// - `img-src data:`: graphiql.min.css draws CodeMirror's lint markers as `data:` PNGs and
///   CodeMirror's drag image is a `data:` GIF. No run above needed them, but they are in
///   the vendored code, and a `data:` image loads nothing from anywhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
style-src-elem 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const STYLESHEET: &str = "text/css; charset=utf-8";

/// One file served under `/graphiql/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every asset, scripts in the order the page must run them (React, ReactDOM, GraphiQL,
/// then the script that starts GraphiQL).
static ASSETS: [Asset; 6] = [
    Asset {
        name: "graphiql.min.css",
        content_type: STYLESHEET,
        body: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "rft-graphiql.css",
        content_type: STYLESHEET,
        body: include_bytes!("../assets/graphiql/rft-graphiql.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "rft-graphiql.js",
        content_type: JAVASCRIPT,
        body: include_bytes!("../assets/graphiql/rft-graphiql.js"),
    },
];

/// Each asset's URL, `/graphiql/<hash>/<name>` with the first 16 hex digits of the file's
/// SHA-256: a changed file gets a new URL, so browsers may cache every URL for a year
/// without ever running a stale build.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = hex::encode(Sha256::digest(asset.body));
            format!("/graphiql/{}/{}", &digest[..16], asset.name)
        })
        .collect()
});

/// The page: stylesheets and scripts by URL only, no inline script or style.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let mut head = String::new();
    let mut scripts = String::new();
    for (asset, url) in ASSETS.iter().zip(URLS.iter()) {
        if asset.content_type == STYLESHEET {
            head.push_str(&format!("    <link rel=\"stylesheet\" href=\"{url}\">\n"));
        } else {
            scripts.push_str(&format!("    <script src=\"{url}\"></script>\n"));
        }
    }
    format!(
        "<!doctype html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         \x20   <meta charset=\"utf-8\">\n\
         \x20   <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         \x20   <title>rft-users GraphiQL</title>\n\
         {head}\
         </head>\n\
         <body>\n\
         \x20   <div id=\"graphiql\">Loading GraphiQL…</div>\n\
         {scripts}\
         </body>\n\
         </html>\n"
    )
});

/// The GraphiQL page for `GET /graphql`, with its security headers. It is not cached, so
/// a new build's asset URLs are picked up at once.
pub fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// The routes serving every asset the page references, under `/graphiql/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .zip(URLS.iter())
        .fold(Router::new(), |router, (asset, url)| {
            router.route(url, get(move || async move { serve(asset) }))
        })
}

fn serve(asset: &'static Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}
