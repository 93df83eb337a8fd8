//! SVG checks beyond MediaWiki's, over HTTP: verification takes time linear in the file
//! whatever its attribute count, `xml:base` is refused, and every attribute that loads a
//! resource through `url()` is held to the presentation attributes' rule.

mod common;

use serde_json::json;

use common::*;

const CONFIG: &str = "file_extensions = [\"png\", \"gif\", \"jpg\", \"jpeg\", \"webp\", \"svg\"]\n";

fn svg(body: &str) -> Vec<u8> {
    format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{body}</svg>"#)
        .into_bytes()
}

#[tokio::test]
async fn svg_checks_beyond_mediawiki() {
    let server = Server::start_with_config(CONFIG);
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let mut c = Check::new(&server);

    c.step("an SVG with 60,000 attributes on one element is verified (and accepted) at once");
    let attrs: String = (0..60_000).map(|i| format!(r#" a{i}="v{i}""#)).collect();
    let big = svg(&format!("<rect{attrs}/>"));
    let started = std::time::Instant::now();
    let r = alice
        .upload_resp("Svg-many-attributes.svg", &big, &[])
        .await;
    let took = started.elapsed();
    let up = c.upload_result(&r, "Success");
    c.eq("sha1", &up["imageinfo"]["sha1"], &json!(sha1_hex(&big)));
    // A release build takes about 0.1 s; this is a test build on a possibly loaded machine,
    // and the quadratic walk it replaces took 6.7 s for 40,000.
    c.ok(
        "in a bounded time",
        took < std::time::Duration::from_secs(3),
        format!("{took:?}"),
    );

    c.step("xml:base is refused");
    let r = alice
        .upload_resp(
            "Svg-xml-base.svg",
            &svg(r##"<g xml:base="javascript:alert(1)//"><a href="#x"><rect/></a></g>"##),
            &[],
        )
        .await;
    c.verification_error(
        &r,
        &json!(["uploaded-xml-base-svg", "g", "javascript:alert(1)//"]),
    );

    c.step("a remote url() in cursor (not among MediaWiki's attributes) is refused");
    let r = alice
        .upload_resp(
            "Svg-cursor.svg",
            &svg(r#"<rect cursor="url(https://example.com/c.cur), auto"/>"#),
            &[],
        )
        .await;
    c.verification_error(
        &r,
        &json!([
            "uploaded-remote-url-svg",
            "cursor",
            "url(https://example.com/c.cur), auto"
        ]),
    );

    c.step("local references, an empty xml:base and ordinary text are accepted");
    let ok = svg(
        r##"<defs><linearGradient id="g"/></defs><g xml:base=""><rect fill="url(#g)" cursor="url(#c)"><title>a &lt; b, about url notes</title></rect></g>"##,
    );
    let r = alice.upload_resp("Svg-benign.svg", &ok, &[]).await;
    c.upload_result(&r, "Success");
    c.finish();
}
