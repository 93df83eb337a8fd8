//! Non-raster formats a wiki may allow (TIFF, PDF, WAV, MIDI, MP3), over HTTP, on files the
//! test makes itself: the benign controls are accepted with their bytes unchanged, broken
//! containers are refused with the exact code, and every answer is timed.

mod common;

use std::time::Duration;

use common::*;

const CONFIG: &str =
    "file_extensions = [\"png\", \"gif\", \"jpg\", \"tif\", \"tiff\", \"pdf\", \"wav\", \"mid\", \"mp3\"]\n";

/// One second of 8 kHz mono 16-bit silence.
fn wav() -> Vec<u8> {
    let data = vec![0u8; 16_000];
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// A type-0 MIDI file playing one note.
fn midi() -> Vec<u8> {
    let track = [
        0x00, 0x90, 0x3c, 0x40, 0x60, 0x80, 0x3c, 0x40, 0x00, 0xff, 0x2f, 0x00,
    ];
    let mut m = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk".to_vec();
    m.extend_from_slice(&(track.len() as u32).to_be_bytes());
    m.extend_from_slice(&track);
    m
}

/// An ID3v2 tag and five MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz) of silence.
fn mp3() -> Vec<u8> {
    let mut m = b"ID3\x04\x00\x00\x00\x00\x00\x0aTIT2\x00\x00\x00\x00\x00\x00".to_vec();
    for _ in 0..5 {
        // 144 × 128000 / 44100 = 417 bytes a frame.
        m.extend_from_slice(&[0xff, 0xfb, 0x90, 0x00]);
        m.extend(std::iter::repeat_n(0u8, 413));
    }
    m
}

/// A one-page PDF whose catalog opens with a JavaScript action, with a correct xref table.
fn pdf_with_script() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >>",
        "<< /S /JavaScript /JS (app.alert\\('hello'\\);) >>",
    ];
    let mut p = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(p.len());
        p.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = p.len();
    p.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        p.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    p.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    p
}

/// An uncompressed 2×2 8-bit greyscale TIFF (little-endian), one strip; `ifd_at` overrides
/// where the header says the first image directory is.
fn tiff(ifd_at: Option<u32>) -> Vec<u8> {
    let pixels = [0u8, 64, 128, 255];
    let mut t = b"II*\0".to_vec();
    let ifd = 8 + pixels.len() as u32;
    t.extend_from_slice(&ifd_at.unwrap_or(ifd).to_le_bytes());
    t.extend_from_slice(&pixels);
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 3, 1, 2), // ImageWidth
        (257, 3, 1, 2), // ImageLength
        (258, 3, 1, 8), // BitsPerSample
        (259, 3, 1, 1), // Compression: none
        (262, 3, 1, 1), // Photometric: black is zero
        (273, 4, 1, 8), // StripOffsets
        (278, 3, 1, 2), // RowsPerStrip
        (279, 4, 1, 4), // StripByteCounts
    ];
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, typ, count, value) in entries {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&typ.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

#[tokio::test]
async fn media_files_hold_together() {
    let server = Server::start_with_config(CONFIG);
    let (n, p) = alice_bot(&server);
    let alice = logged_in(&server, &n, &p).await;
    let mut c = Check::new(&server);

    let mut wav_no_data = wav();
    wav_no_data.truncate(44 - 8);
    let len = (wav_no_data.len() - 8) as u32;
    wav_no_data[4..8].copy_from_slice(&len.to_le_bytes());
    let mut mp3_noise = b"ID3\x04\x00\x00\x00\x00\x00\x0aTIT2\x00\x00\x00\x00\x00\x00".to_vec();
    let mut x = 0x1234_5678u32;
    mp3_noise.extend((0..4000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Random bytes with no MPEG frame sync (0xFF) among them.
        (x % 255) as u8
    }));
    let mut pdf_zip = pdf_with_script();
    pdf_zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00payload.html");
    let mut midi_cut = midi();
    midi_cut.truncate(midi_cut.len() - 5);

    let corpus: Vec<(&str, &str, Vec<u8>, Expect)> = vec![
        ("a WAV", "wav", wav(), Expect::Accepted),
        ("a MIDI file", "mid", midi(), Expect::Accepted),
        ("an MP3", "mp3", mp3(), Expect::Accepted),
        ("a TIFF", "tif", tiff(None), Expect::Accepted),
        (
            "a PDF with JavaScript",
            "pdf",
            pdf_with_script(),
            Expect::Accepted,
        ),
        (
            "a hand-written PDF without cross-reference data",
            "pdf",
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n".to_vec(),
            Expect::Accepted,
        ),
        (
            "an MP3 of a single frame",
            "mp3",
            mp3()[20..20 + 417].to_vec(),
            Expect::Accepted,
        ),
        (
            "a TIFF whose IFD points past the end",
            "tif",
            tiff(Some(100_000)),
            Expect::Refused("uploaded-malformed-image"),
        ),
        (
            "a PDF that is only its %PDF- line",
            "pdf",
            b"%PDF-1.4\n".to_vec(),
            Expect::Refused("uploaded-malformed-file"),
        ),
        (
            "a PDF with a ZIP after its %%EOF",
            "pdf",
            pdf_zip,
            Expect::Refused("uploaded-data-after-file"),
        ),
        (
            "a WAV without a data chunk",
            "wav",
            wav_no_data,
            Expect::Refused("uploaded-malformed-file"),
        ),
        (
            "an MP3 that is an ID3 tag and noise",
            "mp3",
            mp3_noise,
            Expect::Refused("uploaded-malformed-file"),
        ),
        (
            "a MIDI file whose track is cut short",
            "mid",
            midi_cut,
            Expect::Refused("uploaded-malformed-file"),
        ),
    ];

    check_corpus(&mut c, &alice, "Media", corpus, Duration::from_secs(3)).await;
    c.finish();
}
