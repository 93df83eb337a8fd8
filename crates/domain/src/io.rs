//! The bytes of an upload as the checks see them: [`Content`], random access by offset, so
//! that a local file, a buffer or (later) an object read by byte ranges can all be verified
//! the same way. [`ContentReader`] turns a `Content` into a streaming `Read + Seek` cursor.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Read-only random access to an upload's bytes: a local file, a buffer, or (later) an object in
/// an object store read by byte ranges. Verification and property reading only ever see this.
pub trait Content: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Reads up to buf.len() bytes at `offset`; returns 0 at the end. Like pread(2).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Whether there are no bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Content for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| self.get(o..)) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

impl<const N: usize> Content for [u8; N] {
    fn len(&self) -> u64 {
        N as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl Content for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

impl<T: Content + ?Sized> Content for &T {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

impl<T: Content + ?Sized> Content for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

impl<T: Content + ?Sized> Content for Arc<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
}

/// A local file as [`Content`]. The length is taken once, when the file is opened; reads
/// never go past it, so the checks see one consistent size even if the file grows.
#[derive(Debug)]
pub struct FileContent {
    file: File,
    len: u64,
}

impl FileContent {
    /// Open the file at `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileContent> {
        FileContent::new(File::open(path)?)
    }

    /// Wrap an open file (its current length is the content's length).
    pub fn new(file: File) -> io::Result<FileContent> {
        let len = file.metadata()?.len();
        Ok(FileContent { file, len })
    }

    /// Only the first `len` bytes (of a file that may hold more, such as an upload whose
    /// later bytes were never acknowledged).
    pub fn truncated(mut self, len: u64) -> FileContent {
        self.len = self.len.min(len);
        self
    }
}

impl Content for FileContent {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let n = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        if n == 0 {
            return Ok(0);
        }
        self.file.read_at(&mut buf[..n], offset)
    }
}

/// A streaming cursor over a [`Content`]: `Read` from the current position, `Seek`
/// anywhere (past the end too, where reads return 0, as with a file).
#[derive(Clone, Copy)]
pub struct ContentReader<'a> {
    content: &'a dyn Content,
    pos: u64,
}

impl<'a> ContentReader<'a> {
    /// A cursor at the start of `content`.
    pub fn new(content: &'a dyn Content) -> ContentReader<'a> {
        ContentReader { content, pos: 0 }
    }

    /// The current position.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.content.len() {
            return Ok(0);
        }
        let n = self.content.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ContentReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.content.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )),
        }
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

/// Read until `buf` is full or the end of the input; returns the number of bytes read.
pub fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Read at most `max` bytes from the start of `content`.
pub fn read_head(content: &dyn Content, max: usize) -> io::Result<Vec<u8>> {
    let len = usize::try_from(content.len()).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; max.min(len)];
    let n = read_full(&mut ContentReader::new(content), &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_read_at_and_past_the_end() {
        let data = b"hello world";
        let mut buf = [0u8; 5];
        assert_eq!(data.read_at(6, &mut buf).unwrap(), 5);
        assert_eq!(&buf, b"world");
        assert_eq!(data.read_at(9, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ld");
        assert_eq!(data.read_at(11, &mut buf).unwrap(), 0);
        assert_eq!(data.read_at(u64::MAX, &mut buf).unwrap(), 0);
        let v = data.to_vec();
        assert_eq!(Content::len(&v), 11);
        assert!(!Content::is_empty(&v));
        assert!(Content::is_empty(&Vec::new()));
        let boxed: Box<dyn Content> = Box::new(v.clone());
        let shared: Arc<dyn Content> = Arc::new(v);
        assert_eq!(boxed.len(), 11);
        assert_eq!(shared.read_at(0, &mut buf).unwrap(), 5);
        assert_eq!(&buf, b"hello");
    }

    #[test]
    fn reader_reads_and_seeks_like_a_file() {
        let data = b"0123456789";
        let mut r = ContentReader::new(data);
        let mut buf = [0u8; 4];
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"0123");
        assert_eq!(r.seek(SeekFrom::Current(2)).unwrap(), 6);
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 4);
        assert_eq!(&buf, b"6789");
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.seek(SeekFrom::End(-3)).unwrap(), 7);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"789");
        // Past the end is allowed; reads there return nothing.
        assert_eq!(r.seek(SeekFrom::Start(100)).unwrap(), 100);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.position(), 100);
        // Before the start is not.
        assert!(r.seek(SeekFrom::Current(-101)).is_err());
        assert!(r.seek(SeekFrom::End(-11)).is_err());
        // A BufReader over it can seek relative to its buffer.
        let mut b = io::BufReader::with_capacity(4, ContentReader::new(data));
        assert_eq!(read_full(&mut b, &mut buf[..1]).unwrap(), 1);
        b.seek_relative(5).unwrap();
        assert_eq!(read_full(&mut b, &mut buf[..2]).unwrap(), 2);
        assert_eq!(&buf[..2], b"67");
    }

    #[test]
    fn heads() {
        let data = b"abcdef".to_vec();
        assert_eq!(read_head(&data, 3).unwrap(), b"abc");
        assert_eq!(read_head(&data, 100).unwrap(), b"abcdef");
        assert_eq!(read_head(&Vec::new(), 100).unwrap(), b"");
    }

    #[test]
    fn file_content_matches_the_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let expected = std::fs::read(path).unwrap();
        let c = FileContent::open(path).unwrap();
        assert_eq!(c.len(), expected.len() as u64);
        assert_eq!(read_head(&c, usize::MAX).unwrap(), expected);
        let mut buf = [0u8; 7];
        assert_eq!(c.read_at(1, &mut buf).unwrap(), 7);
        assert_eq!(&buf, &expected[1..8]);
        assert_eq!(c.read_at(c.len(), &mut buf).unwrap(), 0);
        let c = FileContent::new(File::open(path).unwrap()).unwrap();
        let mut all = Vec::new();
        ContentReader::new(&c).read_to_end(&mut all).unwrap();
        assert_eq!(all, expected);
        assert!(FileContent::open(concat!(env!("CARGO_MANIFEST_DIR"), "/no/such/file")).is_err());
    }
}
