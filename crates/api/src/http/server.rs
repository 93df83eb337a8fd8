//! The front door: accepting connections and running HTTP on them with the limits a server
//! facing the internet needs without a proxy in front of it.
//!
//! - HTTP/1.1 (and 1.0) through hyper's connection builder with a Tokio timer.
//! - A client has [`FrontDoor::header_timeout`] to send a request's whole header, and
//!   [`FrontDoor::body_timeout`] between two pieces of a request body ([`TimeoutBody`]; the
//!   API answers 408 and closes). The first header of a connection is read here, into a
//!   buffer only as large as what arrived, before hyper (whose buffers take 16 KiB) takes
//!   the connection: 10,000 half-open connections cost about 30 MiB. Later requests on a
//!   keep-alive connection are timed by hyper's header-read timer.
//! - A connection that is idle (no request in progress) for [`FrontDoor::keepalive_timeout`]
//!   is closed by the reaper.
//! - Open connections are capped in total and per client address. At a cap, the idle
//!   connection that has been quiet longest (of that address, or of anyone) is closed to make
//!   room; when none is idle, the new connection gets a short 503 and is closed. So a flood
//!   of half-open connections from one address can neither starve the file-descriptor table
//!   nor lock out a normal client of the same address.
//! - A response the client stops taking is cut after [`FrontDoor::send_timeout`] without
//!   progress (nginx's `send_timeout`).
//! - Behind trusted proxies (`cdn_servers_no_purge`), the client is the address
//!   `X-Forwarded-For` names ([`client_address`]) and the proxies are exempt from the
//!   per-address cap.
//! - A response sent before its request body was read (a refusal) is followed by a bounded
//!   lingering close: the rest of the body is read and dropped for a short while, so that
//!   the client sees the answer instead of a reset.
//! - Shutdown stops accepting, lets requests in progress finish for up to
//!   [`FrontDoor::shutdown_timeout`], then closes what is left.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use mwstore_domain::config::Config;
use mwstore_domain::copyupload::Cidr;

use crate::limits::address_key;
use crate::params::lock;

/// The limits the front door applies.
#[derive(Debug, Clone)]
pub struct FrontDoor {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub shutdown_timeout: Duration,
    /// How long a response may wait for the client to take more of it.
    pub send_timeout: Duration,
    /// Proxies whose connections carry many clients: exempt from the per-address cap.
    pub trusted_proxies: Vec<Cidr>,
    /// How long the lingering read after a refusal lasts at most.
    pub linger_timeout: Duration,
}

/// Descriptors kept free for the database, blobs and fetches when the connection cap is
/// derived from the open-file limit.
const RESERVED_FILES: u64 = 256;

impl FrontDoor {
    /// The limits of a configuration, with the connection cap lowered to what
    /// `open_files_limit` (the process's soft `RLIMIT_NOFILE`) allows.
    pub fn from_config(cfg: &Config, open_files_limit: Option<u64>) -> FrontDoor {
        let mut max = cfg.max_connections;
        if let Some(limit) = open_files_limit {
            let room = limit.saturating_sub(RESERVED_FILES).max(16);
            max = max.min(usize::try_from(room).unwrap_or(usize::MAX));
        }
        FrontDoor {
            header_timeout: Duration::from_secs(cfg.request_header_timeout),
            body_timeout: Duration::from_secs(cfg.request_body_timeout),
            keepalive_timeout: Duration::from_secs(cfg.keepalive_timeout),
            max_connections: max,
            max_connections_per_address: cfg.max_connections_per_address.min(max),
            shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout),
            send_timeout: Duration::from_secs(cfg.send_timeout),
            trusted_proxies: cfg
                .cdn_servers_no_purge
                .iter()
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
            linger_timeout: Duration::from_secs(5),
        }
    }
}

/// The counter of bytes received, looked up once (it is bumped on every read of every
/// connection; the recorder is installed before the server starts).
fn received_bytes() -> &'static metrics::Counter {
    static COUNTER: OnceLock<metrics::Counter> = OnceLock::new();
    COUNTER.get_or_init(|| metrics::counter!("mwstore_received_bytes_total"))
}

/// Milliseconds since the process's first use of this clock (cheap to store atomically).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One open connection, as the registry, the reaper and its requests see it.
pub struct Conn {
    id: u64,
    peer: SocketAddr,
    /// Requests whose response has not been sent in full.
    in_flight: AtomicUsize,
    /// When a byte last came in or a response last finished.
    last_active: AtomicU64,
    /// A response has been sent: from now on, quiet time is keep-alive idleness (before,
    /// the header timeout governs).
    served: AtomicBool,
    /// Closes the connection at once (eviction, keep-alive reaping).
    kill: Notify,
    killed: AtomicBool,
    /// Bytes to read and drop after the response, set by a handler that answered without
    /// reading its request body to the end (0: none).
    linger: AtomicU64,
}

impl Conn {
    /// Asks for a lingering close of this connection, reading and dropping up to `bytes`
    /// of the request body it did not read (within [`FrontDoor::linger_timeout`]).
    pub fn linger_after_response(&self, bytes: u64) {
        self.linger.fetch_max(bytes.max(1), Ordering::Relaxed);
    }

    fn touch(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self, now: u64) -> Option<u64> {
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| now.saturating_sub(self.last_active.load(Ordering::Relaxed)))
    }

    /// Closes the connection; its reason was counted by the caller.
    fn close_quietly(&self) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            self.kill.notify_one();
        }
    }

    fn close(&self, why: &'static str) {
        if !self.killed.swap(true, Ordering::AcqRel) {
            metrics::counter!("mwstore_connections_closed_total", "reason" => why).increment(1);
            self.kill.notify_one();
        }
    }
}

/// Why a connection was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerAddress,
    Total,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::PerAddress => "per_address",
            Refusal::Total => "total",
        }
    }
}

/// The open connections, by client address ([`address_key`]).
pub struct Registry {
    limits: FrontDoor,
    by_address: Mutex<HashMap<IpAddr, Vec<Arc<Conn>>>>,
    total: AtomicUsize,
    next_id: AtomicU64,
}

/// Removes a connection from the registry when its task ends.
struct Registered {
    registry: Arc<Registry>,
    conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.remove(&self.conn);
    }
}

impl Registry {
    pub fn new(limits: FrontDoor) -> Arc<Registry> {
        Arc::new(Registry {
            limits,
            by_address: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        })
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Takes a new connection from `peer`, closing an idle one to make room at a cap.
    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Registered, Refusal> {
        let now = now_ms();
        let mut map = lock(&self.by_address);
        let ip = address_key(peer.ip());
        let mine = map.get(&ip).map_or(0, Vec::len);
        let proxy = self
            .limits
            .trusted_proxies
            .iter()
            .any(|c| c.contains(peer.ip()));
        if !proxy && mine >= self.limits.max_connections_per_address {
            let victim = map
                .get(&ip)
                .and_then(|conns| longest_idle(conns.iter(), now));
            match victim {
                Some(v) => {
                    v.close("evicted");
                    // Counted out now, so that the closing one does not hold the slot.
                    Self::forget(&mut map, &v, &self.total);
                }
                None => return Err(Refusal::PerAddress),
            }
        }
        if self.total.load(Ordering::Acquire) >= self.limits.max_connections {
            match longest_idle(map.values().flatten(), now) {
                Some(v) => {
                    v.close("evicted");
                    Self::forget(&mut map, &v, &self.total);
                }
                None => return Err(Refusal::Total),
            }
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            peer,
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(now),
            served: AtomicBool::new(false),
            kill: Notify::new(),
            killed: AtomicBool::new(false),
            linger: AtomicU64::new(0),
        });
        map.entry(ip).or_default().push(conn.clone());
        self.total.fetch_add(1, Ordering::AcqRel);
        metrics::gauge!("mwstore_connections_open").increment(1.0);
        Ok(Registered {
            registry: self.clone(),
            conn,
        })
    }

    fn forget(map: &mut HashMap<IpAddr, Vec<Arc<Conn>>>, conn: &Conn, total: &AtomicUsize) {
        let ip = address_key(conn.peer.ip());
        if let Some(list) = map.get_mut(&ip) {
            if let Some(i) = list.iter().position(|c| c.id == conn.id) {
                list.swap_remove(i);
                total.fetch_sub(1, Ordering::AcqRel);
                metrics::gauge!("mwstore_connections_open").decrement(1.0);
            }
            if list.is_empty() {
                map.remove(&ip);
            }
        }
    }

    fn remove(&self, conn: &Conn) {
        let mut map = lock(&self.by_address);
        Self::forget(&mut map, conn, &self.total);
    }

    /// Closes keep-alive connections idle for longer than the keep-alive timeout.
    fn reap(&self) {
        let now = now_ms();
        let limit = u64::try_from(self.limits.keepalive_timeout.as_millis()).unwrap_or(u64::MAX);
        let map = lock(&self.by_address);
        for c in map.values().flatten() {
            let kept_alive = c.served.load(Ordering::Acquire);
            if kept_alive && c.idle_for(now).is_some_and(|idle| idle > limit) {
                c.close("keepalive_timeout");
            }
        }
    }
}

fn longest_idle<'a>(conns: impl Iterator<Item = &'a Arc<Conn>>, now: u64) -> Option<Arc<Conn>> {
    conns
        .filter(|c| !c.killed.load(Ordering::Acquire))
        .filter_map(|c| c.idle_for(now).map(|idle| (idle, c)))
        .max_by_key(|(idle, _)| *idle)
        .map(|(_, c)| c.clone())
}

/// The socket, noting when bytes come in (for the keep-alive reaper) and counting them.
struct Tracked {
    stream: Option<TcpStream>,
    /// Bytes read before hyper took the connection (the first request's header), served
    /// first.
    prefix: Vec<u8>,
    prefix_at: usize,
    conn: Arc<Conn>,
    limits: Arc<FrontDoor>,
    /// Armed while a write waits for the client to take bytes.
    send_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Tracked {
    /// A write that could not go on: past the send timeout it fails (and the connection
    /// closes), else it waits.
    fn write_pending(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let timeout = self.limits.send_timeout;
        let sleep = self
            .send_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_pending() {
            return None;
        }
        self.send_deadline = None;
        self.conn.close_quietly();
        metrics::counter!("mwstore_connections_closed_total", "reason" => "send_timeout")
            .increment(1);
        Some(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        ))
    }

    fn wrote<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => match self.write_pending(cx) {
                None => Poll::Pending,
                Some(e) => Poll::Ready(Err(e)),
            },
            ready => {
                self.send_deadline = None;
                ready
            }
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix_at < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.prefix_at);
            let at = self.prefix_at;
            buf.put_slice(&self.prefix[at..at + n]);
            self.prefix_at += n;
            if self.prefix_at == self.prefix.len() {
                self.prefix = Vec::new();
                self.prefix_at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = Pin::new(stream).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.conn.touch();
            received_bytes().increment(n as u64);
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
            None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        };
        self.wrote(cx, r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => return Poll::Ready(Ok(())),
        };
        self.wrote(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = match self.stream.as_mut() {
            Some(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        };
        self.wrote(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // A refusal answered before its body was read: read and drop the rest for a short
        // while before closing, so that the client is not reset before it reads the answer.
        let bytes = self.conn.linger.load(Ordering::Relaxed);
        if bytes > 0 {
            if let Some(stream) = self.stream.take() {
                let time = self.limits.linger_timeout;
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(linger(stream, bytes, time));
                }
            }
        }
    }
}

async fn linger(mut stream: TcpStream, max_bytes: u64, max_time: Duration) {
    let _ = stream.shutdown().await;
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    let deadline = tokio::time::Instant::now() + max_time;
    while read < max_bytes {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => read += n as u64,
            _ => break,
        }
    }
}

/// Largest first header read before hyper takes over (hyper answers 431 beyond its own
/// limit).
const MAX_PREREAD: usize = 64 * 1024;

/// Reads from a new connection until its first request's header is complete (an empty
/// line), the buffer reaches [`MAX_PREREAD`], or the peer closes. Returns what was read.
async fn read_head(stream: &TcpStream, conn: &Conn) -> io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        stream.readable().await?;
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(if buf.is_empty() { 1024 } else { buf.len() });
        }
        match stream.try_read_buf(&mut buf) {
            Ok(0) => {
                return if buf.is_empty() {
                    Err(io::ErrorKind::UnexpectedEof.into())
                } else {
                    Ok(buf)
                };
            }
            Ok(n) => {
                conn.touch();
                received_bytes().increment(n as u64);
                let from = buf.len().saturating_sub(n + 3);
                if memchr::memmem::find(&buf[from..], b"\r\n\r\n").is_some()
                    || memchr::memmem::find(&buf[from..], b"\n\n").is_some()
                    || buf.len() >= MAX_PREREAD
                {
                    return Ok(buf);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Counts a request in progress until its response body is gone.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn new(conn: Arc<Conn>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.served.store(true, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
/// `X-Forwarded-For` names that is not itself a trusted proxy (as MediaWiki's
/// `WebRequest::getIP` reads it).
pub fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut ip = peer;
    if !is_trusted(ip) {
        return ip;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect();
    for hop in forwarded.into_iter().rev() {
        ip = hop;
        if !is_trusted(ip) {
            break;
        }
    }
    ip
}

/// Whether an error (of a request body) is the body idle timeout.
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

async fn handle_request(
    router: Router,
    conn: Arc<Conn>,
    body_timeout: Duration,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let guard = InFlight::new(conn.clone());
    let mut request = request.map(|b| Body::new(TimeoutBody::new(body_timeout, b)));
    request.extensions_mut().insert(ConnectInfo(conn.peer));
    request.extensions_mut().insert(conn);
    let response = match router.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    // The request counts as in progress until its response has been sent in full.
    Ok(response.map(move |b| {
        Body::new(b.map_frame(move |f| {
            let _ = &guard;
            f
        }))
    }))
}

/// A short answer for a connection that is not taken, written without waiting long.
async fn refuse(mut stream: TcpStream, why: Refusal) {
    metrics::counter!("mwstore_connections_refused_total", "reason" => why.as_str()).increment(1);
    let body = match why {
        Refusal::PerAddress => {
            r#"{"error":{"code":"ratelimited","info":"Too many open connections from your address. Please wait some time and try again."}}"#
        }
        Refusal::Total => {
            r#"{"error":{"code":"ratelimited","info":"The server has too many open connections. Please wait some time and try again."}}"#
        }
    };
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: FrontDoor,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let limits = Arc::new(limits);
    let registry = Registry::new((*limits).clone());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(256 * 1024)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();

    let reaper = {
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                registry.reap();
            }
        })
    };

    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: back off a little
                // instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                metrics::counter!("mwstore_accept_errors_total").increment(1);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let registered = match registry.admit(peer) {
            Ok(r) => r,
            Err(why) => {
                tokio::spawn(refuse(stream, why));
                continue;
            }
        };
        metrics::counter!("mwstore_connections_accepted_total").increment(1);
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let conn = registered.conn.clone();
            let _registered = registered;
            // The first request's header is read here, into a buffer as small as it is, so
            // that a connection that never completes one costs little more than its socket.
            let prefix = tokio::select! {
                head = tokio::time::timeout(limits.header_timeout, read_head(&stream, &conn)) => match head {
                    Ok(Ok(prefix)) => prefix,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        metrics::counter!("mwstore_connections_closed_total", "reason" => "header_timeout").increment(1);
                        return;
                    }
                },
                () = conn.kill.notified() => return,
            };
            let io = TokioIo::new(Tracked {
                stream: Some(stream),
                prefix,
                prefix_at: 0,
                conn: conn.clone(),
                limits: limits.clone(),
                send_deadline: None,
            });
            let body_timeout = limits.body_timeout;
            let service = hyper::service::service_fn({
                let conn = conn.clone();
                move |req| handle_request(router.clone(), conn.clone(), body_timeout, req)
            });
            let watched = watcher.watch(builder.serve_connection(io, service));
            tokio::select! {
                r = watched => {
                    if let Err(e) = r {
                        if e.is_timeout() {
                            metrics::counter!("mwstore_connections_closed_total", "reason" => "header_timeout").increment(1);
                        }
                    }
                }
                () = conn.kill.notified() => {}
            }
        });
    }
    reaper.abort();
    drop(listener);
    match tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => {}
        Err(_) => tracing::warn!(
            open = registry.open(),
            "shutdown deadline reached: closing the connections still open"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_count_by_v4_or_v6_slash_64() {
        assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(
            address_key(ip("2001:db8:1:2:3:4:5:6")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(address_key(ip("2001:db8:1:2::9")), ip("2001:db8:1:2::"));
        assert_ne!(address_key(ip("2001:db8:1:3::9")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn forwarded_addresses() {
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 198.51.100.7, 10.1.1.1".parse().unwrap(),
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("192.0.2.1"), &h, &trusted),
            ip("192.0.2.1")
        );
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        let empty = axum::http::HeaderMap::new();
        assert_eq!(
            client_address(ip("10.0.0.1"), &empty, &trusted),
            ip("10.0.0.1")
        );
    }
}
