//! The thumbnail renderer on arbitrary sources (PNG, JPEG, GIF, WebP, TIFF, SVG), at a small
//! size, under the server's kind of limits. As in the server, a raster source is rendered
//! only when the structural walk accepts it (which bounds its canvas by its data).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwstore_domain::raster::check_raster;
use mwstore_domain::render::{render, RenderLimits};
use mwstore_domain::thumb::Format;

const TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/svg+xml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mime = TYPES[usize::from(pick) % TYPES.len()];
    let limits = RenderLimits {
        max_memory: 64 << 20,
        max_source_area: 4_000_000,
    };
    let source = rest.to_vec();
    if !matches!(check_raster(&source, mime), Ok(Ok(()))) {
        return;
    }
    let _ = render(&source, mime, 10_000, (40, 30), Format::Png, false, &limits);
});
