//! GraphiQL at `GET /graphql` is served entirely by the service: the page references no
//! other host, every asset it references is served here with its content type, and the
//! page carries a strict Content-Security-Policy.

use std::collections::BTreeMap;

use regex::Regex;

use crate::helpers::TestApp;

/// One start tag of the page, with its attributes (names lower-cased by the tokenizer).
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: BTreeMap<String, String>,
    /// Text between this tag and the next tag (a `<script>`'s inline code, if any).
    text: String,
}

/// The page's start tags, parsed by a WHATWG-conformant tokenizer.
fn tags(html: &str) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for token in html5gum::Tokenizer::new(html) {
        match token.expect("the tokenizer reads a string") {
            html5gum::Token::StartTag(tag) => tags.push(Tag {
                name: String::from_utf8_lossy(&tag.name).into_owned(),
                attributes: tag
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        (
                            String::from_utf8_lossy(k).into_owned(),
                            String::from_utf8_lossy(&v.value).into_owned(),
                        )
                    })
                    .collect(),
                text: String::new(),
            }),
            html5gum::Token::String(text) => {
                if let Some(last) = tags.last_mut() {
                    last.text.push_str(&String::from_utf8_lossy(&text.value));
                }
            }
            _ => {}
        }
    }
    tags
}

/// A URL that names a host: `scheme://…` or protocol-relative `//host…`.
fn names_a_host(value: &str) -> bool {
    let value = value.trim();
    value.contains("://") || value.starts_with("//")
}

struct Page {
    headers: reqwest::header::HeaderMap,
    tags: Vec<Tag>,
}

async fn fetch_page(app: &TestApp) -> Page {
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    let html = response.text().await.unwrap();
    Page {
        headers,
        tags: tags(&html),
    }
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The URLs of the scripts and stylesheets the page loads, each with the content type it
/// must be served with.
fn assets(page: &Page) -> Vec<(String, &'static str)> {
    page.tags
        .iter()
        .filter_map(|tag| match tag.name.as_str() {
            "script" => tag
                .attributes
                .get("src")
                .map(|src| (src.clone(), "text/javascript; charset=utf-8")),
            "link" if tag.attributes.get("rel").map(String::as_str) == Some("stylesheet") => tag
                .attributes
                .get("href")
                .map(|href| (href.clone(), "text/css; charset=utf-8")),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn graphiql_page_references_no_other_host_and_no_inline_script() {
    let app = TestApp::spawn().await;
    let page = fetch_page(&app).await;

    let scripts: Vec<&Tag> = page.tags.iter().filter(|t| t.name == "script").collect();
    assert!(
        scripts.len() >= 4,
        "React, ReactDOM, GraphiQL and the start-up script: {scripts:?}"
    );
    for tag in &page.tags {
        for (name, value) in &tag.attributes {
            assert!(
                !names_a_host(value),
                "<{} {name}=\"{value}\"> names another host",
                tag.name
            );
            assert!(
                !name.starts_with("on") && name != "style",
                "<{} {name}> is inline script or style, which the CSP forbids",
                tag.name
            );
        }
        assert!(tag.name != "style", "inline <style> element");
        if tag.name == "script" {
            assert!(
                tag.attributes.contains_key("src"),
                "inline <script>: {tag:?}"
            );
            assert!(
                tag.text.trim().is_empty(),
                "inline script code: {:?}",
                tag.text
            );
        }
    }
}

#[tokio::test]
async fn graphiql_assets_are_served_with_their_content_types() {
    let app = TestApp::spawn().await;
    let page = fetch_page(&app).await;
    let assets = assets(&page);
    for vendored in [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
    ] {
        assert!(
            assets.iter().any(|(url, _)| url.ends_with(vendored)),
            "the page loads {vendored}: {assets:?}"
        );
    }
    for (url, content_type) in &assets {
        assert!(url.starts_with("/graphiql/"), "{url}");
        let response = app.client.get(app.url(url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let headers = response.headers().clone();
        assert_eq!(header(&headers, "content-type"), *content_type, "{url}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        let cache = header(&headers, "cache-control");
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{url}: {cache}"
        );
        // What is served is the file in assets/graphiql/, byte for byte.
        let name = url.rsplit('/').next().unwrap();
        let file = std::fs::read(format!(
            "{}/assets/graphiql/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(response.bytes().await.unwrap().as_ref(), file, "{url}");
    }

    let missing = app
        .client
        .get(app.url("/graphiql/0000000000000000/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Absolute URLs inside the vendored builds that load nothing: an XML namespace name and
/// links in licence banners, comments and error messages. A refreshed build that adds
/// another is reported here, to be read before it is allowed.
const NON_LOADING_URLS: &[&str] = &[
    "http://www.w3.org/", // namespace of document.createElementNS for SVG icons
    "https://github.com/",
    "https://en.wikipedia.org/",
    "https://commonmark.org/",
    "https://codemirror.net/",
    "https://reactjs.org/docs/error-decoder.html", // React's minified error messages
];

#[tokio::test]
async fn graphiql_assets_load_nothing_from_another_host() {
    let app = TestApp::spawn().await;
    let page = fetch_page(&app).await;
    let absolute =
        Regex::new(r#"(?i)(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s"'`)<>\\]*"#).unwrap();
    let loading = Regex::new(
        r#"(?i)(?:\bimport|importScripts|fetch|Worker|EventSource|WebSocket)\s*\(\s*["'`](?:[a-z]+:)?//"#,
    )
    .unwrap();
    let css_url = Regex::new(r#"(?i)url\(\s*["']?([^"')\s]*)"#).unwrap();
    let css_import = Regex::new(r#"(?i)@import\s+(?:url\(\s*)?["']?([^"')\s;]*)"#).unwrap();

    for (url, content_type) in assets(&page) {
        let body = app
            .client
            .get(app.url(&url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if content_type.starts_with("text/css") {
            let urls: Vec<&str> = css_url
                .captures_iter(&body)
                .chain(css_import.captures_iter(&body))
                .map(|c| c.get(1).map_or("", |m| m.as_str()))
                .collect();
            for target in urls {
                assert!(
                    target.starts_with("data:") || !names_a_host(target),
                    "{url} loads {target}"
                );
            }
        } else {
            assert!(
                !loading.is_match(&body),
                "{url} loads from another host: {:?}",
                loading.find(&body).map(|m| m.as_str())
            );
            for found in absolute.find_iter(&body) {
                let found = found.as_str();
                assert!(
                    NON_LOADING_URLS
                        .iter()
                        .any(|allowed| found.starts_with(allowed)),
                    "{url} references {found}: read how it is used, and allow it here only if \
                     it loads nothing"
                );
            }
        }
    }
}

#[tokio::test]
async fn graphiql_page_carries_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    let page = fetch_page(&app).await;
    let csp = header(&page.headers, "content-security-policy");
    let directives: BTreeMap<&str, Vec<&str>> = csp
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            words.next().map(|name| (name, words.collect()))
        })
        .collect();

    assert_eq!(
        directives.get("default-src"),
        Some(&vec!["'self'"]),
        "{csp}"
    );
    // Script only from this origin: no inline script, no eval, no other host.
    if let Some(script) = directives.get("script-src") {
        assert_eq!(script, &vec!["'self'"], "{csp}");
    }
    for (name, sources) in &directives {
        for source in sources {
            let keyword = source.starts_with('\'') && source.ends_with('\'');
            assert!(
                keyword || *source == "data:",
                "{name} allows {source}: only keywords and data: are expected ({csp})"
            );
            assert!(*source != "'unsafe-eval'", "{csp}");
            // Inline <style> elements (GraphiQL's dialogs need them), never inline script
            // or style attributes.
            assert!(
                *source != "'unsafe-inline'" || *name == "style-src-elem",
                "{name} allows 'unsafe-inline' ({csp})"
            );
        }
    }
    assert_eq!(directives.get("frame-ancestors"), Some(&vec!["'none'"]));
    assert_eq!(directives.get("object-src"), Some(&vec!["'none'"]));
    assert_eq!(header(&page.headers, "x-frame-options"), "DENY");
    assert_eq!(header(&page.headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page.headers, "referrer-policy"), "no-referrer");
}
