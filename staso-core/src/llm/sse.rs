//! Server-sent events, read from the bytes of a response body as they arrive: the `data`
//! of each event, whatever way the body is cut into chunks.
//!
//! The decoder holds one event at a time, up to [`MAX_EVENT_BYTES`] of it (in buffers
//! of at most twice that at once: the line being read and the event's data so far, grown
//! by doubling). A body whose line never ends (or whose event never does) would otherwise
//! grow them for as long as the body lasts; past the bound the event is skipped, not
//! held, and reading resumes at the next event.

/// The most bytes of one event the decoder holds: far above any real event (a Responses
/// `response.completed` event repeats the whole reply, a few hundred KiB at the largest
/// output limits), so only a broken or hostile body reaches it.
pub(crate) const MAX_EVENT_BYTES: usize = 16 << 20;

/// The state of one SSE body: a partial line, the data of the event being read.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    /// The event being read went past the bound: its bytes are skipped until it ends.
    skipping: Option<Skip>,
    /// Events skipped so far.
    skipped: usize,
}

/// Where a skipped event stands: whether the line being skipped has bytes (a blank line
/// ends the event).
#[derive(Debug, Clone, Copy)]
struct Skip {
    line_has_bytes: bool,
}

impl SseDecoder {
    /// Takes the next bytes of the body; calls `on_data` with the data of each event that
    /// these bytes complete.
    pub(crate) fn feed(&mut self, bytes: &[u8], on_data: &mut dyn FnMut(&str)) {
        for &b in bytes {
            if let Some(skip) = &mut self.skipping {
                match b {
                    b'\n' if !skip.line_has_bytes => self.skipping = None,
                    b'\n' => skip.line_has_bytes = false,
                    b'\r' => {}
                    _ => skip.line_has_bytes = true,
                }
            } else if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.line(&line, on_data);
                self.line = line;
                self.line.clear();
            } else if self.line.len() + self.data.len() < MAX_EVENT_BYTES {
                self.line.push(b);
            } else {
                self.skip();
            }
        }
    }

    /// Drops the event being read, and the memory it took.
    #[cold]
    fn skip(&mut self) {
        self.skipping = Some(Skip {
            line_has_bytes: true,
        });
        self.skipped += 1;
        self.line = Vec::new();
        self.data = String::new();
        self.has_data = false;
        crate::diag::warn(&format!(
            "staso: skipped a server-sent event of more than {MAX_EVENT_BYTES} bytes in an \
             LLM response body; its span misses what that event held"
        ));
    }

    /// Events skipped for their size so far.
    #[cfg(test)]
    fn skipped(&self) -> usize {
        self.skipped
    }

    /// The body ended: an event not followed by a blank line still counts.
    pub(crate) fn finish(&mut self, on_data: &mut dyn FnMut(&str)) {
        if self.skipping.take().is_some() {
            return;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line(&line, on_data);
        }
        self.dispatch(on_data);
    }

    fn line(&mut self, line: &[u8], on_data: &mut dyn FnMut(&str)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(on_data);
            return;
        }
        if let Some(rest) = line.strip_prefix(b"data:") {
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(&String::from_utf8_lossy(rest));
            self.has_data = true;
        }
        // `event:`, `id:`, `retry:` and comments carry nothing the span needs.
    }

    fn dispatch(&mut self, on_data: &mut dyn FnMut(&str)) {
        if self.has_data {
            on_data(&self.data);
        }
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let body = b"event: a\ndata: {\"x\":1}\n\n: comment\ndata: [DONE]\r\n\r\ndata: tail";
        for cut in 1..body.len() {
            let mut d = SseDecoder::default();
            let mut got = Vec::new();
            let mut push = |s: &str| got.push(s.to_string());
            d.feed(&body[..cut], &mut push);
            d.feed(&body[cut..], &mut push);
            d.finish(&mut push);
            assert_eq!(got, ["{\"x\":1}", "[DONE]", "tail"], "cut at {cut}");
        }
    }

    /// A line that never ends is held up to the bound, then skipped with the memory it
    /// took; the events after it are read as before, and one still open at the end is
    /// not dispatched.
    #[test]
    fn an_event_past_the_bound_is_skipped_and_reading_resumes() {
        let mut body = b"data: {\"n\":1}\n\ndata: ".to_vec();
        body.resize(body.len() + MAX_EVENT_BYTES + 10, b'a');
        body.extend_from_slice(b"\r\ndata: more of it\n\ndata: {\"n\":2}\n\ndata: ");
        body.resize(body.len() + MAX_EVENT_BYTES, b'b');
        let mut d = SseDecoder::default();
        let mut got = Vec::new();
        let mut held = 0;
        for chunk in body.chunks(64 * 1024) {
            d.feed(chunk, &mut |s: &str| got.push(s.to_string()));
            held = held.max(d.line.capacity() + d.data.capacity());
        }
        d.finish(&mut |s: &str| got.push(s.to_string()));
        assert_eq!(got, ["{\"n\":1}", "{\"n\":2}"]);
        assert_eq!(d.skipped(), 2);
        // The line's buffer, grown to the bound, and the first event's few bytes.
        assert!(held <= MAX_EVENT_BYTES + 64, "{held} bytes held at once");
        assert_eq!(d.line.capacity() + d.data.capacity(), 0, "released");
    }
}
