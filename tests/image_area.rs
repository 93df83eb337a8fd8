//! The pixel-area policy over HTTP: a raster image may not declare more pixels than
//! `max_image_area`, whatever few bytes it carries.

mod common;

use serde_json::json;

use common::*;

/// zlib of nothing much: a stored empty block.
const EMPTY_ZLIB: &[u8] = &[
    0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
];

/// A PNG whose header declares `w` × `h` pixels over a few bytes of data.
fn declared_png(w: u32, h: u32) -> Vec<u8> {
    png_with_idat(w, h, &[EMPTY_ZLIB])
}

#[tokio::test]
async fn absurd_canvases_are_refused() {
    let server = Server::start();
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let mut c = Check::new(&server);

    c.step("a PNG declaring 100,000 × 100,000 pixels");
    let r = alice
        .upload_resp("Area-bomb.png", &declared_png(100_000, 100_000), &[])
        .await;
    c.verification_error(
        &r,
        &json!([
            "uploaded-image-area-too-large",
            "100000",
            "100000",
            "1000000000"
        ]),
    );

    c.step("a canvas under the limit over a few bytes cannot hold its pixels");
    let r = alice
        .upload_resp("Area-short-data.png", &declared_png(20_000, 20_000), &[])
        .await;
    c.verification_error(
        &r,
        &json!([
            "uploaded-malformed-image",
            "PNG",
            "its image data is too short for the size it declares"
        ]),
    );

    c.step("a camera-sized canvas with data enough for it is accepted");
    // 6000 × 4000 RGB is 72 MB of pixels: one flat colour compresses them to under 1 MB,
    // still more than deflate's best ratio needs.
    let r = alice
        .upload_resp("Area-camera.png", &flat_png(6000, 4000), &[])
        .await;
    c.upload_result(&r, "Success");
    c.finish();
}

#[tokio::test]
async fn the_limit_is_a_setting() {
    let server = Server::start_with_config("max_image_area = 1000\n");
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let mut c = Check::new(&server);
    let r = alice
        .upload_resp("Area-small-limit.png", &make_png(40, 40, 1), &[])
        .await;
    c.verification_error(
        &r,
        &json!(["uploaded-image-area-too-large", "40", "40", "1000"]),
    );
    let r = alice
        .upload_resp("Area-small-ok.png", &make_png(20, 20, 1), &[])
        .await;
    c.upload_result(&r, "Success");
    c.finish();
}
