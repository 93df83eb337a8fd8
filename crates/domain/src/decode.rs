//! Decoding the pixels of PNG, GIF, JPEG and WebP files with the image-rs decoders, so that
//! a file whose image data does not decode (a corrupted zlib stream, an LZW stream that
//! breaks off, entropy-coded data that ends early, an invalid VP8 bitstream) is refused.
//! It runs after the structural walk of [`crate::raster`], so the dimensions it meets are
//! already within `max_image_area` and backed by data.
//!
//! Memory is bounded: PNG and GIF are decoded row by row and block by block into a fixed
//! buffer, whatever the image's size; JPEG and WebP need the whole frame, which is decoded
//! only when it fits in [`DecodeLimits::max_memory`] (a larger one keeps its structural
//! checks). Time is bounded by [`DecodeLimits::deadline`]: a file that is still being
//! decoded when it passes is refused. The bytes are never changed.

use std::io::{self, BufReader};
use std::time::Instant;

use crate::io::{Content, ContentReader};
use crate::verdict::VerificationError;

/// What one decode may cost.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Bytes the decoder may allocate (the compressed input counts when it must be held).
    pub max_memory: u64,
    /// When decoding gives up and the file is refused.
    pub deadline: Option<Instant>,
    /// The time limit, in seconds, for the message.
    pub seconds: u64,
}

/// Bytes a block of GIF pixels is decoded into.
const GIF_BUFFER: usize = 64 * 1024;
/// Rows (or GIF blocks) decoded between two looks at the clock.
const CLOCK_EVERY: u32 = 64;

/// Why decoding stopped.
enum Stop {
    /// The image data is broken: the file is refused with this description.
    Malformed(String),
    /// Decoding would need more memory than allowed.
    TooCostly,
    /// The deadline passed.
    Timeout,
    /// The decoder does not support a feature the file uses: its structural checks stand.
    Unsupported,
    /// Reading the file failed.
    Io(io::Error),
}

type Decoded = Result<(), Stop>;

/// A format's decoder.
type Decoder = fn(&dyn Content, &DecodeLimits, &mut Clock) -> Decoded;

fn malformed(format: &str, what: &str) -> VerificationError {
    VerificationError::new("uploaded-malformed-image", &[format, what])
}

struct Clock {
    deadline: Option<Instant>,
    ticks: u32,
}

impl Clock {
    fn tick(&mut self) -> Decoded {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(CLOCK_EVERY) {
            if let Some(d) = self.deadline {
                if Instant::now() > d {
                    return Err(Stop::Timeout);
                }
            }
        }
        Ok(())
    }
}

/// Decodes the pixel data of a raster file of MIME type `mime` (other types pass). Call it on
/// what [`crate::raster::check_raster`] accepted: PNG checksums are not verified again.
pub fn check_pixels(
    content: &dyn Content,
    mime: &str,
    limits: &DecodeLimits,
) -> io::Result<Result<(), VerificationError>> {
    let mut clock = Clock {
        deadline: limits.deadline,
        ticks: 0,
    };
    let (format, decode): (&str, Decoder) = match mime {
        "image/png" => ("PNG", png),
        "image/gif" => ("GIF", gif),
        "image/jpeg" => ("JPEG", jpeg),
        "image/webp" => ("WebP", webp),
        _ => return Ok(Ok(())),
    };
    // A decoder that panics on a hostile file refuses the file; it does not fail the request.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(content, limits, &mut clock)
    }))
    .unwrap_or_else(|_| Err(Stop::Malformed("the decoder gave up on it".into())));
    match result {
        Ok(()) | Err(Stop::Unsupported) => Ok(Ok(())),
        Err(Stop::Malformed(what)) => Ok(Err(malformed(
            format,
            &format!("its image data does not decode ({what})"),
        ))),
        Err(Stop::TooCostly) => Ok(Err(VerificationError::new(
            "uploaded-image-too-costly",
            &[format, &limits.max_memory.to_string()],
        ))),
        Err(Stop::Timeout) => Ok(Err(VerificationError::new(
            "uploaded-verification-timeout",
            &[format, &limits.seconds.to_string()],
        ))),
        Err(Stop::Io(e)) => Err(e),
    }
}

/// A read error of the file itself, or the file ending where the decoder needed more.
fn from_io(e: io::Error) -> Stop {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Stop::Malformed("the data ends early".into())
    } else {
        Stop::Io(e)
    }
}

fn buffered(content: &dyn Content) -> BufReader<ContentReader<'_>> {
    BufReader::with_capacity(64 * 1024, ContentReader::new(content))
}

fn png_stop(e: png::DecodingError) -> Stop {
    match e {
        png::DecodingError::IoError(e) => from_io(e),
        png::DecodingError::LimitsExceeded => Stop::TooCostly,
        other => Stop::Malformed(other.to_string()),
    }
}

fn png(content: &dyn Content, limits: &DecodeLimits, clock: &mut Clock) -> Decoded {
    let bytes = usize::try_from(limits.max_memory).unwrap_or(usize::MAX);
    let mut decoder = png::Decoder::new_with_limits(buffered(content), png::Limits { bytes });
    // Text chunks were read (and expanded) and every chunk's checksum verified by the
    // structural walk, which runs first: neither is done twice.
    decoder.set_ignore_text_chunk(true);
    decoder.ignore_checksums(true);
    let mut reader = decoder.read_info().map_err(png_stop)?;
    // An animated PNG's frames follow its default image (IDAT), which is the first frame
    // when an fcTL chunk comes before it.
    let total = match reader.info().animation_control() {
        None => 1,
        Some(a) if reader.info().frame_control().is_some() => a.num_frames.max(1),
        Some(a) => a.num_frames.saturating_add(1),
    };
    for n in 0..total {
        if n > 0 {
            reader.next_frame_info().map_err(png_stop)?;
        }
        while reader.next_row().map_err(png_stop)?.is_some() {
            clock.tick()?;
        }
    }
    reader.finish().map_err(png_stop)
}

fn gif_stop(e: gif::DecodingError) -> Stop {
    match e {
        gif::DecodingError::Io(e) => from_io(e),
        other => Stop::Malformed(other.to_string()),
    }
}

fn gif(content: &dyn Content, limits: &DecodeLimits, clock: &mut Clock) -> Decoded {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let limit = std::num::NonZeroU64::new(limits.max_memory.max(1));
    options.set_memory_limit(limit.map_or(gif::MemoryLimit::Unlimited, gif::MemoryLimit::Bytes));
    let mut decoder = options.read_info(buffered(content)).map_err(gif_stop)?;
    let mut buf = vec![0u8; GIF_BUFFER];
    while decoder.next_frame_info().map_err(gif_stop)?.is_some() {
        // Pixels come out a buffer at a time; the frame is never held whole.
        while decoder.fill_buffer(&mut buf).map_err(gif_stop)? {
            clock.tick()?;
        }
        clock.tick()?;
    }
    Ok(())
}

fn jpeg(content: &dyn Content, limits: &DecodeLimits, _clock: &mut Clock) -> Decoded {
    use zune_jpeg::errors::DecodeErrors;
    let len = content.len();
    if len > limits.max_memory {
        return Err(Stop::Unsupported);
    }
    let mut data = vec![0u8; usize::try_from(len).map_err(|_| Stop::TooCostly)?];
    let n = crate::io::read_full(&mut ContentReader::new(content), &mut data).map_err(Stop::Io)?;
    data.truncate(n);
    let stop = |e: DecodeErrors| match e {
        DecodeErrors::Unsupported(_) => Stop::Unsupported,
        DecodeErrors::LargeDimensions(_) => Stop::TooCostly,
        other => Stop::Malformed(format!("{other:?}")),
    };
    let options = zune_jpeg::zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(data.as_slice(), options);
    decoder.decode_headers().map_err(stop)?;
    let Some(size) = decoder.output_buffer_size() else {
        return Err(Stop::TooCostly);
    };
    if (size as u64).saturating_add(len) > limits.max_memory {
        // Too large to hold decoded: the structural walk and its data-size check stand.
        return Err(Stop::Unsupported);
    }
    let mut out = vec![0u8; size];
    decoder.decode_into(&mut out).map_err(stop)
}

fn webp_stop(e: image_webp::DecodingError) -> Stop {
    use image_webp::DecodingError as E;
    match e {
        E::IoError(e) => from_io(e),
        E::MemoryLimitExceeded | E::ImageTooLarge => Stop::TooCostly,
        E::UnsupportedFeature(_) => Stop::Unsupported,
        other => Stop::Malformed(other.to_string()),
    }
}

fn webp(content: &dyn Content, limits: &DecodeLimits, clock: &mut Clock) -> Decoded {
    let mut decoder = image_webp::WebPDecoder::new(buffered(content)).map_err(webp_stop)?;
    let budget = usize::try_from(limits.max_memory).unwrap_or(usize::MAX);
    decoder.set_memory_limit(budget);
    let Some(size) = decoder.output_buffer_size() else {
        return Err(Stop::TooCostly);
    };
    if size as u64 > limits.max_memory {
        return Err(Stop::Unsupported);
    }
    let mut out = vec![0u8; size];
    if decoder.is_animated() {
        for _ in 0..decoder.num_frames() {
            decoder.read_frame(&mut out).map_err(webp_stop)?;
            clock.tick()?;
        }
        Ok(())
    } else {
        decoder.read_image(&mut out).map_err(webp_stop)
    }
}
