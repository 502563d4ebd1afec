//! [`BufferedSocket`]: socket reads without a large per-connection buffer.
//!
//! tungstenite reads through it; each socket read goes into a 64 KiB stack
//! buffer and only the bytes tungstenite has not taken yet are kept. So
//! tungstenite's own read buffer can be tiny (512 B by default) without
//! costing a system call per 512 bytes of a large frame, and an idle
//! connection holds no read buffer beyond it.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;

use super::scan::FrameScanner;

/// Size of one socket read.
const READ_CHUNK: usize = 64 * 1024;

/// A socket (a `TcpStream`, or an upgraded HTTP connection from a framework)
/// whose reads go through a stack buffer: bytes read beyond what the caller
/// asked for are kept in `rest` (freed once consumed).
pub(crate) struct BufferedSocket<S = TcpStream> {
    inner: S,
    rest: Vec<u8>,
    pos: usize,
    /// Where the peer is in its frames (read-only; see `scan`).
    pub(crate) frames: FrameScanner,
}

/// What a connection can run over.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for S {}

impl<S: Socket> BufferedSocket<S> {
    pub(crate) fn new(inner: S, already_read: Vec<u8>) -> Self {
        let mut frames = FrameScanner::default();
        frames.feed(&already_read);
        BufferedSocket {
            inner,
            rest: already_read,
            pos: 0,
            frames,
        }
    }
}

impl<S: Socket> AsyncRead for BufferedSocket<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.rest.len() {
            let n = dst.remaining().min(this.rest.len() - this.pos);
            dst.put_slice(&this.rest[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.rest.len() {
                this.rest = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        if dst.remaining() >= READ_CHUNK {
            let before = dst.filled().len();
            let read = Pin::new(&mut this.inner).poll_read(cx, dst);
            if let Poll::Ready(Ok(())) = read {
                this.frames.feed(&dst.filled()[before..]);
            }
            return read;
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        match Pin::new(&mut this.inner).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled();
                this.frames.feed(filled);
                let n = dst.remaining().min(filled.len());
                dst.put_slice(&filled[..n]);
                if n < filled.len() {
                    this.rest = filled[n..].to_vec();
                    this.pos = 0;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: Socket> AsyncWrite for BufferedSocket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A server-side WebSocket over a [`BufferedSocket`].
pub(crate) type Ws<S = TcpStream> = WebSocketStream<BufferedSocket<S>>;
