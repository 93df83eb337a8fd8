//! MIME sniffing, file properties (dimensions, EXIF, metadata) and the whole verification
//! pipeline, with the extension a client would give.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwstore_domain::config::Config;
use mwstore_domain::{props, verify};

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        max_decode_memory: 64 << 20,
        verify_time_limit: 1,
        ..Config::default()
    };
    for ext in ["png", "jpg", "gif", "webp", "svg", "pdf", "tiff", "ogg", "mp3"] {
        let Ok(p) = props::file_props(&data, Some(ext), data.len() as u64, "0") else {
            continue;
        };
        let _ = verify::verify_file(&data, ext, &p, &cfg);
    }
});
