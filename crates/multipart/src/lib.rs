//! Streaming `multipart/form-data` reader that frames parts the way PHP's
//! upload parser does, because MediaWiki clients depend on that framing.
//!
//! With `B` the boundary, the rules are:
//!
//! - **Delimiter lines.** A delimiter is `--B` at the start of a line (the
//!   start of the body counts as a line start). What follows `--B` on that
//!   line decides what it is:
//!   - `--` (anything may follow): the closing delimiter. The rest of the
//!     body is ignored.
//!   - optional spaces/tabs, then `\n` or `\r\n`: a part starts on the next
//!     line. (PHP takes no padding; RFC 2046 allows it, no known client
//!     sends it, accepting it only turns garbage into a part.)
//!   - anything else (`--BX`): not a delimiter; searching goes on.
//! - **Preamble.** Everything before the first delimiter is ignored.
//! - **Part headers** are lines ending in `\n` or `\r\n`, up to an empty line.
//!   See the `headers` module for how they are read. A part is a *file* iff
//!   its `Content-Disposition` has a `filename` parameter, even an empty one;
//!   its Content-Type is reported, never interpreted.
//! - **Part bodies** end at the first `\n--B`, whatever follows it, and
//!   exactly one `\r` immediately before that `\n` is dropped. So CRLF bodies
//!   parse normally, and a bare-LF body whose data ends in `\r` loses that
//!   byte (pywikibot appends a `\r` to its last chunk for this reason). When
//!   the `\n--B` turns out not to be a delimiter (`\n--BX`), the part has
//!   still ended; what follows is skipped up to the next delimiter line, as
//!   PHP does.
//! - **Skipped parts.** A part without `Content-Disposition`, or whose
//!   disposition has no (or an empty) `name`, is skipped silently. PHP stops
//!   reading the body at a disposition with neither `name` nor `filename`,
//!   and names nameless files by number; no client sends either.
//! - **Truncation.** A body that ends before the closing delimiter fails
//!   with [`MultipartError::Incomplete`]; the last bytes of a part are only
//!   handed out once the delimiter that ends it has been seen, so a cut-off
//!   part can never pass for a complete one. A completely empty body has no
//!   parts and no error, as in PHP.
//!
//! Memory stays bounded: part bodies are passed on as slices of the input
//! chunks, and at most one input chunk plus a few boundary lengths are held.

mod boundary;
mod headers;

pub use boundary::{parse_boundary, MAX_BOUNDARY_LEN};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use memchr::memmem::Finder;

/// Default for [`Limits::max_header_bytes`].
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// Default for [`Limits::max_parts`].
pub const DEFAULT_MAX_PARTS: usize = 1000;

/// Fewest bytes taken from a new input chunk when it has to be joined to
/// bytes held back from the previous one.
const MIN_SEAM: usize = 256;

/// Headers of one part, as returned by [`MultipartReader::next_part`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHeaders {
    /// The `name` parameter of `Content-Disposition` (never empty).
    pub name: String,
    /// The `filename` parameter, if present (possibly empty, which callers
    /// treat as "no file" like PHP's `UPLOAD_ERR_NO_FILE`). Never interpret
    /// it as a destination name.
    pub filename: Option<String>,
    /// The part's `Content-Type` header, if present, unparsed.
    pub content_type: Option<String>,
}

impl PartHeaders {
    /// Whether the part is a file upload (it has a `filename` parameter).
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }
}

/// Limits that bound the work a request body can cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in one part's header block, line endings and the empty
    /// line included.
    pub max_header_bytes: usize,
    /// Most parts in a body, skipped parts included.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_parts: DEFAULT_MAX_PARTS,
        }
    }
}

/// Why a multipart body could not be read.
#[derive(thiserror::Error, Debug)]
pub enum MultipartError {
    /// The body ended before its closing delimiter (also returned by every
    /// call after an earlier error or a cancelled call).
    #[error("incomplete multipart body")]
    Incomplete,
    /// A part's header block exceeded [`Limits::max_header_bytes`].
    #[error("multipart part headers too large")]
    HeaderTooLarge,
    /// The body has more than [`Limits::max_parts`] parts.
    #[error("too many multipart parts")]
    TooManyParts,
    /// The part given to [`MultipartReader::read_to_vec`] exceeded its limit.
    #[error("multipart field too large")]
    FieldTooLarge,
    /// The underlying body stream failed.
    #[error("error reading the request body: {0}")]
    Stream(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the reader stands in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for a delimiter line; everything before it is discarded.
    Seeking,
    /// `\n--B` has just been consumed; the rest of its line decides.
    AfterMarker,
    /// At the start of a part's header block.
    Headers,
    /// Inside a part's body.
    Body,
    /// The closing delimiter has been read.
    Done,
    /// An error happened or a call was cancelled; nothing more is read.
    Failed,
}

/// What a line starting with `--B` turned out to be.
enum Marker {
    Open,
    Close,
    NotDelimiter,
}

/// An input chunk of which only a prefix has been copied to the end of the
/// buffer: `buf` ends with `chunk[start..end]`, and `end < chunk.len()`.
struct Rest {
    chunk: Bytes,
    start: usize,
    end: usize,
}

/// Reads the parts of a `multipart/form-data` body from a stream of chunks.
///
/// Call [`next_part`](Self::next_part) to move to a part, then
/// [`read_chunk`](Self::read_chunk) (or [`read_to_vec`](Self::read_to_vec))
/// to read its body. After any error (except `FieldTooLarge`), or when a
/// call's future was dropped before completing, every later call fails with
/// [`MultipartError::Incomplete`].
pub struct MultipartReader<S> {
    stream: S,
    /// The stream has returned `None`.
    eof: bool,
    /// The stream has yielded at least one byte.
    received: bool,
    /// Bytes read from the stream and not consumed yet.
    buf: Bytes,
    rest: Option<Rest>,
    /// Searches for `\n--B`.
    finder: Finder<'static>,
    seam: usize,
    limits: Limits,
    state: State,
    parts: usize,
    /// A call is in progress (still set if its future was dropped).
    busy: bool,
}

impl<S> std::fmt::Debug for MultipartReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartReader")
            .field("state", &self.state)
            .field("parts", &self.parts)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

fn concat(a: &[u8], b: &[u8]) -> Bytes {
    let mut joined = BytesMut::with_capacity(a.len() + b.len());
    joined.extend_from_slice(a);
    joined.extend_from_slice(b);
    joined.freeze()
}

impl<S, E> MultipartReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    /// Creates a reader for a body delimited by `boundary` (as returned by
    /// [`parse_boundary`], without the leading `--`).
    pub fn new(stream: S, boundary: &str, limits: Limits) -> Self {
        let mut needle = Vec::with_capacity(boundary.len() + 3);
        needle.extend_from_slice(b"\n--");
        needle.extend_from_slice(boundary.as_bytes());
        let seam = (2 * needle.len()).max(MIN_SEAM);
        Self {
            stream,
            eof: false,
            received: false,
            // The start of the body counts as the start of a line.
            buf: Bytes::from_static(b"\n"),
            rest: None,
            finder: Finder::new(&needle).into_owned(),
            seam,
            limits,
            state: State::Seeking,
            parts: 0,
            busy: false,
        }
    }

    /// Advances to the next part, skipping whatever is left of the current
    /// one and any part that has no name. Returns `None` after the closing
    /// delimiter (or for an empty body).
    pub async fn next_part(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        self.enter()?;
        let result = self.next_part_inner().await;
        self.leave(result.is_err());
        result
    }

    /// Returns the next piece of the current part's body, or `None` at its
    /// end (and when there is no current part). Pieces are never empty and
    /// are slices of the input chunks wherever possible.
    pub async fn read_chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        self.enter()?;
        let result = if self.state == State::Body {
            self.body_step().await
        } else {
            Ok(None)
        };
        self.leave(result.is_err());
        result
    }

    /// Reads the rest of the current part into memory. Fails with
    /// [`MultipartError::FieldTooLarge`] if it has more than `max` bytes;
    /// the reader stays usable then, and `next_part` skips the rest.
    pub async fn read_to_vec(&mut self, max: usize) -> Result<Vec<u8>, MultipartError> {
        let mut out = Vec::new();
        while let Some(piece) = self.read_chunk().await? {
            if piece.len() > max - out.len() {
                return Err(MultipartError::FieldTooLarge);
            }
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }

    /// After the closing delimiter, reads and drops the epilogue (whatever follows it, e.g.
    /// a final line end) up to `max` bytes. Returns whether the body ended within them (a
    /// server can then read the next request on the same connection).
    pub async fn finish(&mut self, max: u64) -> Result<bool, MultipartError> {
        if self.state != State::Done {
            return Ok(false);
        }
        let mut seen = self.buf.len() as u64;
        if let Some(rest) = self.rest.take() {
            seen += (rest.chunk.len() - rest.end) as u64;
        }
        self.buf = Bytes::new();
        while !self.eof {
            if seen > max {
                return Ok(false);
            }
            match self.stream.next().await {
                None => self.eof = true,
                Some(Err(e)) => return Err(MultipartError::Stream(Box::new(e))),
                Some(Ok(chunk)) => seen += chunk.len() as u64,
            }
        }
        Ok(seen <= max)
    }

    fn enter(&mut self) -> Result<(), MultipartError> {
        if self.busy {
            self.state = State::Failed;
        }
        if self.state == State::Failed {
            return Err(MultipartError::Incomplete);
        }
        self.busy = true;
        Ok(())
    }

    fn leave(&mut self, failed: bool) {
        self.busy = false;
        if failed {
            self.state = State::Failed;
        }
    }

    async fn next_part_inner(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Failed => return Err(MultipartError::Incomplete),
                State::Body => {
                    self.body_step().await?;
                }
                State::Seeking => {
                    if !self.seek_marker().await? {
                        if self.received {
                            return Err(MultipartError::Incomplete);
                        }
                        self.state = State::Done;
                        return Ok(None);
                    }
                    self.state = State::AfterMarker;
                }
                State::AfterMarker => match self.read_marker().await? {
                    Marker::Close => self.state = State::Done,
                    Marker::NotDelimiter => self.state = State::Seeking,
                    Marker::Open => {
                        self.parts += 1;
                        if self.parts > self.limits.max_parts {
                            return Err(MultipartError::TooManyParts);
                        }
                        self.state = State::Headers;
                    }
                },
                State::Headers => {
                    let entries = self.read_headers().await?;
                    self.state = State::Body;
                    if let Some(part) = headers::part_headers(&entries) {
                        return Ok(Some(part));
                    }
                }
            }
        }
    }

    /// Gets more input into `buf`. Returns `false` at the end of the stream.
    /// Each `true` means `buf` has grown.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        if let Some(rest) = self.rest.take() {
            if self.buf.len() <= rest.end - rest.start {
                // Everything left in `buf` came from `chunk`: go back to
                // slicing the chunk itself.
                self.buf = rest.chunk.slice(rest.end - self.buf.len()..);
            } else {
                let end = rest.end + (rest.chunk.len() - rest.end).min(self.seam);
                self.buf = concat(&self.buf, &rest.chunk[rest.end..end]);
                if end < rest.chunk.len() {
                    self.rest = Some(Rest { end, ..rest });
                }
            }
            return Ok(true);
        }
        let chunk = loop {
            if self.eof {
                return Ok(false);
            }
            match self.stream.next().await {
                None => self.eof = true,
                Some(Err(e)) => return Err(MultipartError::Stream(Box::new(e))),
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => break chunk,
            }
        };
        self.received = true;
        if self.buf.is_empty() {
            self.buf = chunk;
        } else {
            // Join only a small prefix of the chunk to the held-back bytes;
            // `fill` returns to the chunk itself once they are consumed.
            let end = chunk.len().min(self.seam);
            self.buf = concat(&self.buf, &chunk[..end]);
            if end < chunk.len() {
                self.rest = Some(Rest {
                    chunk,
                    start: 0,
                    end,
                });
            }
        }
        Ok(true)
    }

    /// The next byte of input, without consuming it; `None` at the end.
    async fn peek(&mut self) -> Result<Option<u8>, MultipartError> {
        while self.buf.is_empty() {
            if !self.fill().await? {
                return Ok(None);
            }
        }
        Ok(self.buf.first().copied())
    }

    /// Length of the prefix of `buf` that cannot belong to a `\n--B` match
    /// (nor be the `\r` dropped before one) completed by later input. Only
    /// valid when `buf` holds no complete match.
    fn holdback_start(&self) -> usize {
        let needle = self.finder.needle();
        let buf = &self.buf[..];
        let from = buf.len().saturating_sub(needle.len() - 1);
        let mut cut = buf.len();
        for i in memchr::memchr_iter(b'\n', &buf[from..]) {
            if needle.starts_with(&buf[from + i..]) {
                cut = from + i;
                break;
            }
        }
        if cut > 0 && buf[cut - 1] == b'\r' {
            cut -= 1;
        }
        cut
    }

    /// Discards input up to and including the next `\n--B`. Returns `false`
    /// if the stream ends first.
    async fn seek_marker(&mut self) -> Result<bool, MultipartError> {
        loop {
            if let Some(at) = self.finder.find(&self.buf) {
                self.buf.advance(at + self.finder.needle().len());
                return Ok(true);
            }
            let cut = self.holdback_start();
            self.buf.advance(cut);
            if !self.fill().await? {
                return Ok(false);
            }
        }
    }

    /// Next piece of the current body; at its end, consumes the `\n--B` and
    /// moves to `AfterMarker`.
    async fn body_step(&mut self) -> Result<Option<Bytes>, MultipartError> {
        loop {
            if let Some(at) = self.finder.find(&self.buf) {
                let mut data = self.buf.split_to(at);
                self.buf.advance(self.finder.needle().len());
                if data.last() == Some(&b'\r') {
                    data.truncate(data.len() - 1);
                }
                self.state = State::AfterMarker;
                return Ok((!data.is_empty()).then_some(data));
            }
            let cut = self.holdback_start();
            if cut > 0 {
                return Ok(Some(self.buf.split_to(cut)));
            }
            if !self.fill().await? {
                return Err(MultipartError::Incomplete);
            }
        }
    }

    /// Reads the rest of a line that started with `--B`.
    async fn read_marker(&mut self) -> Result<Marker, MultipartError> {
        #[derive(PartialEq)]
        enum Seen {
            Nothing,
            Dash,
            Padding,
            Cr,
        }
        let mut seen = Seen::Nothing;
        loop {
            let byte = self.peek().await?.ok_or(MultipartError::Incomplete)?;
            let next = match (&seen, byte) {
                (Seen::Nothing, b'-') => Seen::Dash,
                (Seen::Dash, b'-') => {
                    self.buf.advance(1);
                    return Ok(Marker::Close);
                }
                (Seen::Nothing | Seen::Padding, b' ' | b'\t') => Seen::Padding,
                (Seen::Nothing | Seen::Padding, b'\r') => Seen::Cr,
                (Seen::Nothing | Seen::Padding | Seen::Cr, b'\n') => {
                    self.buf.advance(1);
                    return Ok(Marker::Open);
                }
                // Not consumed: it may start the next `\n--B`.
                _ => return Ok(Marker::NotDelimiter),
            };
            self.buf.advance(1);
            seen = next;
        }
    }

    /// Reads a part's header lines up to and including the empty line.
    async fn read_headers(&mut self) -> Result<Vec<headers::HeaderEntry>, MultipartError> {
        let max = self.limits.max_header_bytes;
        let mut total = 0usize;
        let mut line = Vec::new();
        let mut entries = Vec::new();
        loop {
            if self.buf.is_empty() && !self.fill().await? {
                return Err(MultipartError::Incomplete);
            }
            let Some(newline) = memchr::memchr(b'\n', &self.buf) else {
                total += self.buf.len();
                if total > max {
                    return Err(MultipartError::HeaderTooLarge);
                }
                line.extend_from_slice(&self.buf);
                self.buf.clear();
                continue;
            };
            total += newline + 1;
            if total > max {
                return Err(MultipartError::HeaderTooLarge);
            }
            line.extend_from_slice(&self.buf[..newline]);
            self.buf.advance(newline + 1);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            // Lines are C strings to PHP: a NUL byte ends them.
            if let Some(nul) = memchr::memchr(0, &line) {
                line.truncate(nul);
            }
            if line.is_empty() {
                return Ok(entries);
            }
            headers::push_line(&mut entries, &line);
            line.clear();
        }
    }
}

#[cfg(test)]
mod tests;
