//! The raster structure walk and, on what it lets through, the pixel decoders. PNG chunk checksums are repaired
//! first, so that mutations reach the chunk contents and the image data instead of
//! stopping at the checksum.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mwstore_domain::decode::{check_pixels, DecodeLimits};
use mwstore_domain::raster::check_raster;

fn repair_png_crcs(data: &mut [u8]) {
    if !data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return;
    }
    let mut pos = 8usize;
    while pos + 12 <= data.len() {
        let len = u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
        let Some(end) = (pos + 8).checked_add(len as usize) else {
            return;
        };
        if end + 4 > data.len() {
            return;
        }
        let crc = crc32(&data[pos + 4..end]);
        data[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end + 4;
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fuzz_target!(|input: &[u8]| {
    let mut data = input.to_vec();
    repair_png_crcs(&mut data);
    let mime = match data.first() {
        Some(0x89) => "image/png",
        Some(b'G') => "image/gif",
        Some(0xff) => "image/jpeg",
        _ => "image/webp",
    };
    // As in the server, pixels are decoded only when the walk found the structure sound
    // (the walk bounds the canvas by the data, so decoding time is bounded by the input).
    if let Ok(Ok(())) = check_raster(&data, mime) {
        let limits = DecodeLimits {
            max_memory: 64 << 20,
            deadline: Instant::now().checked_add(Duration::from_secs(1)),
            seconds: 1,
        };
        let _ = check_pixels(&data, mime, &limits);
    }
});
