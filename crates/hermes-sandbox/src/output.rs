//! Collecting a child's output with a byte cap.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

/// Reads `reader` to its end in chunks, sending each to `tx`.
pub(crate) async fn pump<R: AsyncRead + Unpin>(mut reader: R, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Accumulates output up to a cap.
#[derive(Debug)]
pub(crate) struct CappedBuffer {
    pub(crate) data: Vec<u8>,
    cap: usize,
    pub(crate) overflowed: bool,
}

impl CappedBuffer {
    pub(crate) fn new(cap: usize) -> CappedBuffer {
        CappedBuffer {
            data: Vec::with_capacity(cap.min(64 * 1024)),
            cap,
            overflowed: false,
        }
    }

    /// Appends `chunk`; returns `false` once the cap is exceeded.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.data.len());
        if chunk.len() > room {
            self.data.extend_from_slice(&chunk[..room]);
            self.overflowed = true;
            return false;
        }
        self.data.extend_from_slice(chunk);
        true
    }
}
