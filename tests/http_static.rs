//! The web app's files over a real socket, as a browser and a proxy see them: a strong `ETag`
//! and a bodiless `304` for a current copy, gzip when `Accept-Encoding` prefers it (with
//! `Vary`), `HEAD` with the headers of `GET`, and the module preloads in the page.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_browser_gets_304s_and_a_new_one_gets_gzip() {
    let server = start_server().await;
    let addr = server.addr;
    let browser = [("Accept-Encoding", "gzip, deflate, br, zstd")];

    let first = raw_request(addr, "GET", "/app.js", &browser, b"").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Content-Encoding"), Some("gzip"));
    assert_eq!(first.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(first.header("Cache-Control"), Some("no-cache"));
    assert_eq!(first.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(first.header("Content-Length"), Some(first.body.len().to_string().as_str()));
    assert_eq!(&first.body[..2], [0x1f, 0x8b], "a gzip stream");
    let etag = first.header("ETag").expect("an ETag").to_string();

    let again = raw_request(addr, "GET", "/app.js", &[browser[0], ("If-None-Match", &etag)], b"").await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    assert_eq!(again.header("Vary"), Some("Accept-Encoding"));
    assert_eq!(again.header("Cache-Control"), Some("no-cache"));

    // A client that takes no gzip gets the file itself, under another tag.
    for refusal in [None, Some("identity"), Some("gzip;q=0, identity"), Some("*;q=0, identity;q=1")] {
        let headers: Vec<(&str, &str)> = refusal.map(|value| ("Accept-Encoding", value)).into_iter().collect();
        let plain = raw_request(addr, "GET", "/app.js", &headers, b"").await;
        assert_eq!(plain.status, 200, "{refusal:?}");
        assert_eq!(plain.header("Content-Encoding"), None, "{refusal:?}");
        assert_eq!(plain.body, include_bytes!("../kanect-http/web/app.js"), "{refusal:?}");
        assert_ne!(plain.header("ETag"), Some(etag.as_str()), "{refusal:?}");
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_with_the_length_of_get_and_no_body() {
    let server = start_server().await;
    for accept in ["identity", "gzip"] {
        let get = raw_request(server.addr, "GET", "/style.css", &[("Accept-Encoding", accept)], b"").await;
        let head = raw_request(server.addr, "HEAD", "/style.css", &[("Accept-Encoding", accept)], b"").await;
        assert_eq!(head.status, 200, "{accept}");
        assert!(head.body.is_empty(), "{accept}");
        assert_eq!(head.header("Content-Length"), Some(get.body.len().to_string().as_str()), "{accept}");
        for name in ["Content-Type", "Content-Encoding", "ETag", "Vary", "Cache-Control"] {
            assert_eq!(head.header(name), get.header(name), "{accept}: {name}");
        }
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_preloads_its_modules_within_the_policy() {
    let server = start_server().await;
    let page = raw_request(server.addr, "GET", "/", &[], b"").await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body.clone()).expect("UTF-8");
    for module in ["/app.js", "/session.js", "/views/chat.js", "/views/settings.js"] {
        assert!(html.contains(&format!("<link rel=\"modulepreload\" href=\"{module}\">")), "{module} is not preloaded");
    }
    assert!(!html.contains("href=\"/sw.js\""), "the service worker is no module of the page");
    // Same-origin preloads: what `default-src 'self'` allows scripts to load.
    assert!(page.header("Content-Security-Policy").expect("a CSP").starts_with("default-src 'self'"));
    let etag = page.header("ETag").expect("an ETag");
    let again = raw_request(server.addr, "GET", "/", &[("If-None-Match", etag)], b"").await;
    assert_eq!(again.status, 304);
    server.shutdown().await.expect("shutdown");
}
