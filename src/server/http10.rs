//! HTTP/1.0 requests with chunked bodies, made acceptable to hyper.
//!
//! Crashpad's socket transport (used where Crashpad is built without libcurl) writes
//! `POST /submit HTTP/1.0` with `Transfer-Encoding: chunked`. RFC 9112 says a server should
//! not trust chunked framing from an HTTP/1.0 client, and hyper (like nginx 1.22) answers
//! such a request with a bare 400; with no switch to allow it, the crash would be lost.
//!
//! [`Http10Chunked`] sits between the socket and hyper and looks at the first request head
//! of the connection only. If it is HTTP/1.0 and says `Transfer-Encoding: chunked`, the
//! request line is rewritten to HTTP/1.1 and `Connection: close` is added as the last header,
//! so hyper reads the chunked body, answers `HTTP/1.1 200` with a `Content-Length` and closes
//! the connection, as an HTTP/1.0 client expects. Everything else passes through untouched:
//! an HTTP/1.1 request costs one look at the first line of its first read, and no copy.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use memchr::memmem;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A head longer than this is passed on as it is: the HTTP front refuses it (431) anyway.
const MAX_SNIFF: usize = super::MAX_HEAD_BYTES;

/// What the first bytes of a connection call for.
#[derive(Debug, PartialEq, Eq)]
enum Sniff {
    /// Not an HTTP/1.0 chunked request: hand the bytes to hyper unchanged.
    Pass,
    /// The first head is not complete yet.
    NeedMore,
    /// An HTTP/1.0 chunked request, rewritten (head and whatever body bytes followed it).
    Rewrite(Vec<u8>),
}

/// Decides what to do with `received`, every byte of the connection so far. Pure.
fn sniff(received: &[u8]) -> Sniff {
    // Not there yet: wait for more, up to the limit.
    let incomplete = || {
        if received.len() >= MAX_SNIFF {
            Sniff::Pass
        } else {
            Sniff::NeedMore
        }
    };
    let Some(line_end) = memchr::memchr(b'\n', received) else {
        return incomplete();
    };
    let Some(method_and_target) = received[..=line_end].strip_suffix(b" HTTP/1.0\r\n") else {
        return Sniff::Pass;
    };
    // The blank line ending the head; with no headers at all it directly follows the
    // request line, whose own CRLF then starts the match.
    let Some(head_end) = memmem::find(&received[line_end - 1..], b"\r\n\r\n") else {
        return incomplete();
    };
    let headers_end = line_end - 1 + head_end + 2;
    let headers = &received[line_end + 1..headers_end];
    let chunked = headers.split(|&byte| byte == b'\n').any(|line| {
        let Some(colon) = memchr::memchr(b':', line) else {
            return false;
        };
        line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"transfer-encoding")
            && line[colon + 1..]
                .to_ascii_lowercase()
                .windows(7)
                .any(|word| word == b"chunked")
    });
    if !chunked {
        return Sniff::Pass;
    }
    let mut rewritten = Vec::with_capacity(received.len() + 32);
    rewritten.extend_from_slice(method_and_target);
    rewritten.extend_from_slice(b" HTTP/1.1\r\n");
    rewritten.extend_from_slice(headers);
    // Last, so that no earlier `Connection: keep-alive` can override it.
    rewritten.extend_from_slice(b"Connection: close\r\n\r\n");
    rewritten.extend_from_slice(&received[headers_end + 2..]);
    Sniff::Rewrite(rewritten)
}

#[derive(Debug)]
enum State {
    /// Reading the first head; bytes held back so far (empty until a first read leaves the
    /// decision open).
    Sniffing(Vec<u8>),
    /// Handing out held-back (possibly rewritten) bytes before reading the socket again.
    Replaying { bytes: Vec<u8>, at: usize },
    /// Decided: every read goes straight to the socket.
    Passing,
}

/// A connection whose first request, if it is HTTP/1.0 with a chunked body, reaches hyper as
/// HTTP/1.1 with `Connection: close`. Writes go straight through.
#[derive(Debug)]
pub struct Http10Chunked<S> {
    inner: S,
    state: State,
}

impl<S> Http10Chunked<S> {
    /// Wraps a fresh connection (nothing read from it yet).
    pub fn new(inner: S) -> Self {
        Http10Chunked {
            inner,
            state: State::Sniffing(Vec::new()),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Http10Chunked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Passing => return Pin::new(&mut this.inner).poll_read(cx, buf),
                State::Replaying { bytes, at } => {
                    let n = (bytes.len() - *at).min(buf.remaining());
                    buf.put_slice(&bytes[*at..*at + n]);
                    *at += n;
                    if *at == bytes.len() {
                        this.state = State::Passing;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Sniffing(held) if held.is_empty() => {
                    // The first read goes straight into hyper's buffer; only if it leaves
                    // the decision open are its bytes taken back and held.
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                    let fresh = &buf.filled()[before..];
                    if fresh.is_empty() || sniff(fresh) == Sniff::Pass {
                        this.state = State::Passing;
                        return Poll::Ready(Ok(()));
                    }
                    held.extend_from_slice(fresh);
                    buf.set_filled(before);
                }
                State::Sniffing(held) => match sniff(held) {
                    Sniff::Pass => {
                        let bytes = std::mem::take(held);
                        this.state = State::Replaying { bytes, at: 0 };
                    }
                    Sniff::Rewrite(bytes) => this.state = State::Replaying { bytes, at: 0 },
                    Sniff::NeedMore => {
                        let mut chunk = [0u8; 8192];
                        let mut more = ReadBuf::new(&mut chunk);
                        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut more))?;
                        if more.filled().is_empty() {
                            // The client stopped mid-head: let hyper see what there was.
                            let bytes = std::mem::take(held);
                            this.state = State::Replaying { bytes, at: 0 };
                        } else {
                            held.extend_from_slice(more.filled());
                        }
                    }
                },
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Http10Chunked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const CRASHPAD_HEAD: &[u8] = b"POST /submit?guid=1 HTTP/1.0\r\n\
        Content-Encoding: gzip\r\n\
        Content-Type: multipart/form-data; boundary=x\r\n\
        Transfer-Encoding: chunked\r\n\r\n";

    fn rewritten_head() -> Vec<u8> {
        b"POST /submit?guid=1 HTTP/1.1\r\n\
        Content-Encoding: gzip\r\n\
        Content-Type: multipart/form-data; boundary=x\r\n\
        Transfer-Encoding: chunked\r\n\
        Connection: close\r\n\r\n"
            .to_vec()
    }

    #[test]
    fn http10_chunked_is_rewritten_body_bytes_kept() {
        let mut request = CRASHPAD_HEAD.to_vec();
        request.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        let mut expected = rewritten_head();
        expected.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(sniff(&request), Sniff::Rewrite(expected));
        let keep_alive =
            b"POST / HTTP/1.0\r\nConnection: keep-alive\r\ntransfer-encoding: Chunked\r\n\r\n";
        assert_eq!(
            sniff(keep_alive),
            Sniff::Rewrite(
                b"POST / HTTP/1.1\r\nConnection: keep-alive\r\ntransfer-encoding: Chunked\r\nConnection: close\r\n\r\n"
                    .to_vec()
            )
        );
    }

    #[test]
    fn everything_else_passes() {
        for request in [
            &b"POST /submit HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST /submit HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
            b"GET / HTTP/1.0\r\n\r\n",
            b"GET / HTTP/1.0\n\n",
            b"garbage without a version\r\n",
            b"POST / HTTP/1.0\r\nX-Not-Transfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(
                sniff(request),
                Sniff::Pass,
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
        // Incomplete heads wait, up to the limit.
        assert_eq!(sniff(b"POST /sub"), Sniff::NeedMore);
        assert_eq!(sniff(b"POST / HTTP/1.0\r\nHost: x\r\n"), Sniff::NeedMore);
        let huge = [&b"POST / HTTP/1.0\r\nX: "[..], &[b'a'; MAX_SNIFF]].concat();
        assert_eq!(sniff(&huge), Sniff::Pass);
    }

    /// Yields its bytes `step` at a time, as a slow client would.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self
                .step
                .min(self.bytes.len() - self.at)
                .min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.bytes[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    async fn read_through(bytes: &[u8], step: usize) -> Vec<u8> {
        let mut wrapped = Http10Chunked::new(Trickle {
            bytes: bytes.to_vec(),
            at: 0,
            step,
        });
        let mut out = Vec::new();
        wrapped.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn same_bytes_at_every_split() {
        let mut crashpad = CRASHPAD_HEAD.to_vec();
        crashpad.extend_from_slice(b"3\r\nabc\r\n0\r\n\r\n");
        let mut expected = rewritten_head();
        expected.extend_from_slice(b"3\r\nabc\r\n0\r\n\r\n");
        let plain = b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec();
        for step in 1..=crashpad.len() {
            assert_eq!(read_through(&crashpad, step).await, expected, "step {step}");
            assert_eq!(read_through(&plain, step).await, plain, "step {step}");
        }
    }
}
