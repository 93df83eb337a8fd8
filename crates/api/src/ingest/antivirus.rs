//! Virus scanning (SPEC §7.5, MediaWiki's `$wgAntivirus`): a complete upload is streamed to
//! clamd over its INSTREAM protocol, and what clamd says becomes step 6 of the content checks,
//! after the partial checks and before the full ones ([`crate::ingest::inspect`]).
//!
//! The protocol: connect (Unix socket `clamav_socket` or TCP `clamav_address`), send
//! `zINSTREAM\0`, then the file in frames, each a 4-byte big-endian length and that many
//! bytes, then a zero length; clamd answers one line ended by `\0`: `stream: OK`,
//! `stream: <signature> FOUND`, or `<reason> ERROR` (such as `INSTREAM size limit exceeded.`
//! when the file is longer than clamd's `StreamMaxLength`).
//!
//! The file is read on a blocking thread, a block at a time, and handed to the connection
//! through a channel of two blocks: memory stays at a few blocks whatever the file's size,
//! and reading the next block overlaps sending the last one. At most `clamav_max_scans`
//! scans run at once; everything — waiting for a slot, connecting, sending, clamd's verdict —
//! happens within `clamav_timeout`.
//!
//! Policy ([`scan_upload`]): a signature found refuses the upload with `uploadvirus` and the
//! signature's name. A scan that fails (clamd unreachable, too slow, or answering `ERROR`)
//! refuses it too with `uploadvirus` "scan failed (...)" when `clamav_required` (MediaWiki's
//! `$wgAntivirusRequired`, on by default), and is only logged otherwise.
//!
//! MediaWiki also scans every chunk of a chunked upload. mwstore scans the assembled file
//! only: it holds every byte of every chunk, so each signature a chunk would match matches
//! there too, and a signature that spans two chunks is found only there; the file-type aware
//! parts of clamd (archives, documents, executables) need the whole file to parse anyway. A
//! chunk is never served or published on its own, so nothing is exposed before assembly,
//! and the upload costs one scan instead of one per chunk. A stashed file that is committed
//! with the verification recorded when it was stashed was scanned then.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use mwstore_domain::config::Config;
use mwstore_domain::io::{read_full, Content, ContentReader};
use mwstore_domain::verify::VerificationError;

use crate::error::ApiError;
use crate::AppState;

/// The longest wait for a connection to clamd (within `clamav_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the file in one INSTREAM frame.
const BLOCK: usize = 128 * 1024;
/// Frames read ahead of the connection.
const READ_AHEAD: usize = 2;
/// The longest answer taken from clamd (a signature name is short).
const MAX_REPLY: usize = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Its `LocalSocket`.
    Unix(PathBuf),
    /// Its `TCPSocket` on `TCPAddr`, as `host:port`.
    Tcp(String),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// What clamd found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The name of the signature that matched, as clamd reports it.
    Infected(String),
}

/// Why a scan gave no verdict. The texts are what the client sees in "scan failed (...)":
/// they say what failed, never where clamd is.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Every scan slot stayed taken until the deadline.
    #[error("no free scan slot within {0} s")]
    Busy(u64),
    /// No connection to clamd.
    #[error("clamd unreachable: {0}")]
    Unreachable(String),
    /// clamd did not answer before the deadline.
    #[error("clamd timed out after {0} s")]
    Timeout(u64),
    /// clamd answered `... ERROR`.
    #[error("clamd: {0}")]
    Refused(String),
    /// The connection broke before clamd answered.
    #[error("clamd connection failed: {0}")]
    Connection(String),
    /// An answer that is none of clamd's.
    #[error("unexpected answer from clamd: {0:?}")]
    Unexpected(String),
    /// The upload's own bytes could not be read: not the scanner's failure.
    #[error("reading the upload: {0}")]
    Read(io::Error),
}

/// A clamd to scan with, and the slots that bound the scans running at once.
#[derive(Debug)]
pub struct Scanner {
    endpoint: Endpoint,
    timeout: Duration,
    slots: Semaphore,
}

impl Scanner {
    /// The scanner the settings name, if any.
    pub fn from_config(cfg: &Config) -> Option<Scanner> {
        let endpoint = if !cfg.clamav_socket.is_empty() {
            Endpoint::Unix(PathBuf::from(&cfg.clamav_socket))
        } else if !cfg.clamav_address.is_empty() {
            Endpoint::Tcp(cfg.clamav_address.clone())
        } else {
            return None;
        };
        Some(Scanner::new(
            endpoint,
            Duration::from_secs(cfg.clamav_timeout),
            cfg.clamav_max_scans,
        ))
    }

    /// A scanner for clamd at `endpoint`: scans end within `timeout`, at most `max_scans`
    /// run at once.
    pub fn new(endpoint: Endpoint, timeout: Duration, max_scans: usize) -> Scanner {
        Scanner {
            endpoint,
            timeout,
            slots: Semaphore::new(max_scans.max(1)),
        }
    }

    /// Where clamd is.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Streams `content` to clamd and returns its verdict.
    pub async fn scan(&self, content: Arc<dyn Content>) -> Result<Verdict, ScanError> {
        let deadline = Instant::now() + self.timeout;
        let secs = self.timeout.as_secs();
        let _slot = match timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(permit)) => permit,
            // The semaphore is never closed; a closed one would mean no slot either.
            Ok(Err(_)) | Err(_) => return Err(ScanError::Busy(secs)),
        };
        match timeout_at(deadline, self.scan_now(content)).await {
            Ok(verdict) => verdict,
            Err(_) => Err(ScanError::Timeout(secs)),
        }
    }

    /// Asks clamd whether it is there (`PING` → `PONG`), within `clamav_timeout`.
    pub async fn ping(&self) -> Result<(), ScanError> {
        let secs = self.timeout.as_secs();
        let exchange = async {
            let reply = match &self.endpoint {
                Endpoint::Unix(p) => ping(connect(UnixStream::connect(p)).await?).await,
                Endpoint::Tcp(a) => ping(connect(TcpStream::connect(a.as_str())).await?).await,
            }?;
            if reply == "PONG" {
                Ok(())
            } else {
                Err(ScanError::Unexpected(reply))
            }
        };
        timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(ScanError::Timeout(secs)))
    }

    async fn scan_now(&self, content: Arc<dyn Content>) -> Result<Verdict, ScanError> {
        match &self.endpoint {
            Endpoint::Unix(p) => instream(connect(UnixStream::connect(p)).await?, content).await,
            Endpoint::Tcp(a) => {
                instream(connect(TcpStream::connect(a.as_str())).await?, content).await
            }
        }
    }
}

/// Step 6 of the content checks for a complete upload: `Ok(Err(uploadvirus))` when clamd
/// found a signature, or when the scan failed and a scan is required. Nothing to do when no
/// scanner is configured.
pub async fn scan_upload(
    app: &AppState,
    content: Arc<dyn Content>,
    sha1: &str,
) -> Result<Result<(), VerificationError>, ApiError> {
    let Some(scanner) = &app.antivirus else {
        return Ok(Ok(()));
    };
    let started = std::time::Instant::now();
    let result = scanner.scan(content).await;
    metrics::histogram!("mwstore_virus_scan_seconds").record(started.elapsed().as_secs_f64());
    let outcome = match result {
        Ok(Verdict::Clean) => {
            tracing::debug!(sha1, "clamd found nothing");
            "clean"
        }
        Ok(Verdict::Infected(name)) => {
            metrics::counter!("mwstore_virus_scans_total", "result" => "infected").increment(1);
            tracing::warn!(sha1, virus = %name, "upload refused: clamd found a virus");
            return Ok(Err(VerificationError::new("uploadvirus", &[&name])));
        }
        Err(ScanError::Read(e)) => return Err(ApiError::from(e)),
        Err(e) if app.config.clamav_required => {
            metrics::counter!("mwstore_virus_scans_total", "result" => "failed").increment(1);
            tracing::warn!(
                sha1,
                scanner = %scanner.endpoint(),
                error = %e,
                "upload refused: the virus scan failed and clamav_required is on"
            );
            let failed = format!("scan failed ({e})");
            return Ok(Err(VerificationError::new("uploadvirus", &[&failed])));
        }
        Err(e) => {
            tracing::warn!(
                sha1,
                scanner = %scanner.endpoint(),
                error = %e,
                "the virus scan failed; the upload goes on unscanned (clamav_required is off)"
            );
            "failed"
        }
    };
    metrics::counter!("mwstore_virus_scans_total", "result" => outcome).increment(1);
    Ok(Ok(()))
}

/// A connection, or why there is none, within [`CONNECT_TIMEOUT`].
async fn connect<S>(connecting: impl Future<Output = io::Result<S>>) -> Result<S, ScanError> {
    match timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(ScanError::Unreachable(describe(&e))),
        Err(_) => Err(ScanError::Unreachable(format!(
            "no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// An I/O error in a few words, without the OS error number.
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::NotFound => "no such socket".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::BrokenPipe => "connection closed while sending".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(cut) => text[..cut].to_owned(),
                None => text,
            }
        }
    }
}

/// What went wrong while sending a file.
enum SendError {
    /// Reading the file.
    Read(io::Error),
    /// Writing to clamd.
    Write(io::Error),
}

/// One INSTREAM exchange on an open connection.
async fn instream<S>(mut conn: S, content: Arc<dyn Content>) -> Result<Verdict, ScanError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sent = send(&mut conn, content).await;
    if let Err(SendError::Read(e)) = sent {
        return Err(ScanError::Read(e));
    }
    // When clamd refuses a stream (its size limit), it answers at once and closes, so the
    // sending fails; its answer says why, so it is read whatever the sending did.
    let reply = read_reply(&mut conn).await;
    match (sent, reply) {
        (_, Ok(reply)) if !reply.is_empty() => parse_reply(&reply),
        (Err(SendError::Write(e)), _) | (_, Err(e)) => Err(ScanError::Connection(describe(&e))),
        _ => Err(ScanError::Connection("closed without an answer".into())),
    }
}

/// Sends `zINSTREAM\0`, the file in frames, and the zero-length frame that ends it.
async fn send<S>(conn: &mut S, content: Arc<dyn Content>) -> Result<(), SendError>
where
    S: AsyncWrite + Unpin,
{
    conn.write_all(b"zINSTREAM\0")
        .await
        .map_err(SendError::Write)?;
    let len = content.len();
    let (tx, mut rx) = mpsc::channel(READ_AHEAD);
    // The reader stops at its next block when the receiver is gone (an error, a timeout).
    tokio::task::spawn_blocking(move || read_frames(&*content, &tx));
    let mut sent = 0u64;
    while let Some(frame) = rx.recv().await {
        let frame: Vec<u8> = frame.map_err(SendError::Read)?;
        conn.write_all(&frame).await.map_err(SendError::Write)?;
        sent += (frame.len() - 4) as u64;
    }
    // A reader that ended early (it panicked) must not pass for the whole file.
    if sent != len {
        return Err(SendError::Read(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{sent} of {len} bytes read"),
        )));
    }
    conn.write_all(&0u32.to_be_bytes())
        .await
        .map_err(SendError::Write)?;
    conn.flush().await.map_err(SendError::Write)
}

/// Reads `content` into INSTREAM frames (length prefix included), on a blocking thread.
fn read_frames(content: &dyn Content, tx: &mpsc::Sender<io::Result<Vec<u8>>>) {
    let mut reader = ContentReader::new(content);
    loop {
        let mut frame = vec![0u8; 4 + BLOCK];
        match read_full(&mut reader, &mut frame[4..]) {
            Ok(0) => return,
            Ok(n) => {
                frame.truncate(4 + n);
                // n ≤ BLOCK, far below u32::MAX.
                frame[..4].copy_from_slice(&(n as u32).to_be_bytes());
                if tx.blocking_send(Ok(frame)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

/// Reads clamd's answer up to its `\0` (or the end of the connection).
async fn read_reply<S>(conn: &mut S) -> io::Result<Vec<u8>>
where
    S: AsyncRead + Unpin,
{
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(reply);
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memchr(0, &reply) {
            reply.truncate(end);
            return Ok(reply);
        }
        if reply.len() > MAX_REPLY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an answer longer than any of clamd's",
            ));
        }
    }
}

/// `zPING\0` → the answer.
async fn ping<S>(mut conn: S) -> Result<String, ScanError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let failed = |e: io::Error| ScanError::Connection(describe(&e));
    conn.write_all(b"zPING\0").await.map_err(failed)?;
    let reply = read_reply(&mut conn).await.map_err(failed)?;
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// clamd's answer to INSTREAM (without its `\0`) as a verdict.
fn parse_reply(reply: &[u8]) -> Result<Verdict, ScanError> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim();
    let said = text.strip_prefix("stream:").map_or(text, str::trim);
    if said == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(name) = said.strip_suffix(" FOUND") {
        let name = name.trim();
        if !name.is_empty() {
            return Ok(Verdict::Infected(name.to_owned()));
        }
    }
    if let Some(reason) = said.strip_suffix(" ERROR") {
        return Err(ScanError::Refused(
            reason.trim().trim_end_matches('.').to_owned(),
        ));
    }
    Err(ScanError::Unexpected(said.chars().take(200).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::net::UnixListener;

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply(b"stream: Eicar-Test-Signature FOUND").unwrap(),
            Verdict::Infected("Eicar-Test-Signature".into())
        );
        assert_eq!(
            parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\n").unwrap(),
            Verdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        let e = parse_reply(b"INSTREAM size limit exceeded. ERROR").unwrap_err();
        assert_eq!(e.to_string(), "clamd: INSTREAM size limit exceeded");
        let e = parse_reply(b"stream: Can't allocate memory ERROR").unwrap_err();
        assert_eq!(e.to_string(), "clamd: Can't allocate memory");
        assert!(matches!(
            parse_reply(b"UNKNOWN COMMAND"),
            Err(ScanError::Unexpected(_))
        ));
        assert!(matches!(
            parse_reply(b"stream: FOUND"),
            Err(ScanError::Unexpected(_))
        ));
    }

    #[test]
    fn errors_in_a_few_words() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ScanError::Unreachable(describe(&refused)).to_string(),
            "clamd unreachable: connection refused"
        );
        assert_eq!(
            describe(&io::Error::from_raw_os_error(36)),
            "File name too long"
        );
    }

    /// A fake clamd on a Unix socket: reads the command and the frames, checks them, and
    /// answers `answer` (or, with `close_early`, answers before reading the frames and
    /// closes, as clamd does past its size limit).
    async fn fake_clamd(
        dir: &std::path::Path,
        expected: Vec<u8>,
        answer: &'static [u8],
        close_early: bool,
    ) -> (PathBuf, tokio::task::JoinHandle<Vec<u32>>) {
        let path = dir.join("clamd.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut cmd = [0u8; 10];
            s.read_exact(&mut cmd).await.unwrap();
            assert_eq!(&cmd, b"zINSTREAM\0");
            if close_early {
                s.write_all(answer).await.unwrap();
                return Vec::new();
            }
            let mut got = Vec::new();
            let mut frames = Vec::new();
            loop {
                let len = s.read_u32().await.unwrap();
                frames.push(len);
                if len == 0 {
                    break;
                }
                let mut buf = vec![0u8; len as usize];
                s.read_exact(&mut buf).await.unwrap();
                got.extend_from_slice(&buf);
            }
            assert_eq!(got, expected);
            s.write_all(answer).await.unwrap();
            frames
        });
        (path, task)
    }

    #[tokio::test]
    async fn streams_the_file_in_frames() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..BLOCK * 2 + 77).map(|i| (i % 251) as u8).collect();
        let (path, clamd) =
            fake_clamd(dir.path(), data.clone(), b"stream: Test.Sig FOUND\0", false).await;
        let scanner = Scanner::new(Endpoint::Unix(path), Duration::from_secs(10), 1);
        let verdict = scanner.scan(Arc::new(data)).await.unwrap();
        assert_eq!(verdict, Verdict::Infected("Test.Sig".into()));
        assert_eq!(
            clamd.await.unwrap(),
            vec![BLOCK as u32, BLOCK as u32, 77, 0]
        );
    }

    #[tokio::test]
    async fn an_early_answer_is_read_after_a_broken_send() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![7u8; 4 * 1024 * 1024];
        let (path, clamd) = fake_clamd(
            dir.path(),
            Vec::new(),
            b"INSTREAM size limit exceeded. ERROR\0",
            true,
        )
        .await;
        let scanner = Scanner::new(Endpoint::Unix(path), Duration::from_secs(10), 1);
        let e = scanner.scan(Arc::new(data)).await.unwrap_err();
        assert_eq!(e.to_string(), "clamd: INSTREAM size limit exceeded");
        clamd.await.unwrap();
    }

    #[tokio::test]
    async fn silence_times_out_and_slots_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clamd.sock");
        // Accepts and never answers.
        let listener = UnixListener::bind(&path).unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let scanner = Scanner::new(Endpoint::Unix(path), Duration::from_millis(300), 1);
        let data: Arc<dyn Content> = Arc::new(b"small".to_vec());
        let e = scanner.scan(data.clone()).await.unwrap_err();
        assert!(matches!(e, ScanError::Timeout(_)), "{e}");
        // With the only slot taken, a scan waits for it until its deadline.
        let taken = scanner.slots.acquire().await.unwrap();
        let e = scanner.scan(data).await.unwrap_err();
        assert!(matches!(e, ScanError::Busy(_)), "{e}");
        drop(taken);
        hold.abort();
    }

    #[tokio::test]
    async fn nobody_listening() {
        let dir = tempfile::tempdir().unwrap();
        let scanner = Scanner::new(
            Endpoint::Unix(dir.path().join("none.sock")),
            Duration::from_secs(5),
            1,
        );
        let e = scanner.scan(Arc::new(b"x".to_vec())).await.unwrap_err();
        assert_eq!(e.to_string(), "clamd unreachable: no such socket");
        let e = scanner.ping().await.unwrap_err();
        assert_eq!(e.to_string(), "clamd unreachable: no such socket");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let scanner = Scanner::new(
            Endpoint::Tcp(format!("127.0.0.1:{port}")),
            Duration::from_secs(5),
            1,
        );
        let e = scanner.scan(Arc::new(b"x".to_vec())).await.unwrap_err();
        assert_eq!(e.to_string(), "clamd unreachable: connection refused");
    }
}
