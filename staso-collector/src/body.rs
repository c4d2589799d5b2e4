//! Request bodies, read into buffers kept for the next request. A batch is hundreds of
//! kilobytes: gathered into a fresh buffer each time (`collect().to_bytes()`), it cost the
//! collector a page fault per 4 KiB of every request, an eighth of the whole machine's
//! CPU at saturation (`perf record -a` of the sustained bench).

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use std::ops::Deref;
use std::sync::{Mutex, MutexGuard};

/// Buffers kept for reuse: about as many as requests are read at once.
const KEPT: usize = 8;
/// A buffer larger than this (a rare huge body) is let go rather than kept.
const KEEP_AT_MOST: usize = 8 * 1024 * 1024;

/// Buffers of bodies read and dropped, for the next ones.
struct Pool(Mutex<Vec<Vec<u8>>>);

static POOL: Pool = Pool(Mutex::new(Vec::new()));

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An empty buffer, with the capacity of an earlier body when one was kept.
    fn take(&self) -> Vec<u8> {
        self.lock().pop().unwrap_or_default()
    }

    /// Keeps `buf`, emptied, unless it is huge or enough are kept.
    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > KEEP_AT_MOST {
            return;
        }
        buf.clear();
        let mut kept = self.lock();
        if kept.len() < KEPT {
            kept.push(buf);
        }
    }
}

/// A request's body; its buffer goes back to the pool when it is dropped.
pub(crate) struct Body {
    buf: Vec<u8>,
}

impl Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        POOL.give(std::mem::take(&mut self.buf));
    }
}

/// Reads the body of `req` within `limit` bytes; `Err` holds the length to record with
/// the 413 (also when the body could not be read whole).
pub(crate) async fn read(req: Request<Incoming>, limit: usize) -> Result<Body, usize> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > limit) {
        return Err(n);
    }
    let mut body = Body { buf: POOL.take() };
    body.buf.reserve(declared.unwrap_or(0));
    let mut incoming = req.into_body();
    while let Some(frame) = incoming.frame().await {
        let Ok(frame) = frame else {
            return Err(limit + 1);
        };
        if let Ok(data) = frame.into_data() {
            if body.buf.len() + data.len() > limit {
                return Err(limit + 1);
            }
            body.buf.extend_from_slice(&data);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer comes back empty, with its capacity (the next request's bytes are never
    /// read after an earlier one's); huge ones and those past `KEPT` are not kept.
    #[test]
    fn buffers_come_back_empty_and_huge_ones_do_not() {
        let pool = Pool(Mutex::new(Vec::new()));
        pool.give(vec![7; 1000]);
        pool.give(Vec::with_capacity(KEEP_AT_MOST + 1));
        let again = pool.take();
        assert!(again.is_empty());
        assert!(again.capacity() >= 1000);
        assert!(pool.take().capacity() == 0, "the huge one was not kept");
        for _ in 0..KEPT + 2 {
            pool.give(Vec::with_capacity(10));
        }
        assert_eq!(pool.lock().len(), KEPT);
    }
}
