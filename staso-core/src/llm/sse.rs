//! Server-sent events, read from the bytes of a response body as they arrive: the `data`
//! of each event, whatever way the body is cut into chunks.

/// The state of one SSE body: a partial line, the data of the event being read.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// Takes the next bytes of the body; calls `on_data` with the data of each event that
    /// these bytes complete.
    pub(crate) fn feed(&mut self, bytes: &[u8], on_data: &mut dyn FnMut(&str)) {
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut self.line);
                self.line(&line, on_data);
                self.line = line;
                self.line.clear();
            } else {
                self.line.push(b);
            }
        }
    }

    /// The body ended: an event not followed by a blank line still counts.
    pub(crate) fn finish(&mut self, on_data: &mut dyn FnMut(&str)) {
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
}
