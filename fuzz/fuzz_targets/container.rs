//! The container walks (TIFF, PDF, WAV, MIDI, MP3, Ogg, FLAC, WebM/Matroska), each given
//! every input whatever it starts with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwstore_domain::container::check_container;

const TYPES: &[&str] = &[
    "image/tiff",
    "application/pdf",
    "audio/wav",
    "audio/midi",
    "audio/mpeg",
    "application/ogg",
    "audio/flac",
    "video/webm",
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the walk, so that each one sees the mutations that suit it.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let _ = check_container(&rest, TYPES[usize::from(pick) % TYPES.len()]);
});
