//! The SVG filter (the partial and the full check) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwstore_domain::svg::check_svg;

fuzz_target!(|data: &[u8]| {
    let _ = check_svg(&data, true);
    let _ = check_svg(&data, false);
});
