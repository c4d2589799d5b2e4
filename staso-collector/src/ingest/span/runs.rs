//! What the span reader takes several fields at once by: the runs of fields the SDKs
//! write alike and the span's tail (see `Parser::span`), and the switch by which tests
//! turn these fast paths off.

use super::{AGENT_VERSION, CAPTURE, ERROR_MESSAGE, INPUT, MODEL, OUTPUT, USER_ID};

/// A run of span fields as the SDKs write them alike on most spans (not an LLM call,
/// nothing captured, no error, the default capture policy, no user), in wire order and
/// compact: when the text goes on with `text` right after a field's value, the fields
/// `from..to` are all there, once, each with a valid value that sets nothing in the
/// span (`error_message` null leaves it `None`), so the first `eat` bytes are eaten at
/// once. Each run ends where a token ends (a closing quote or brace), or with a comma
/// that is checked but not eaten.
pub(super) struct Run {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) fields: u32,
    pub(super) text: &'static [u8],
    pub(super) eat: usize,
}

impl Run {
    const fn new(from: usize, to: usize, text: &'static [u8], comma_after: bool) -> Self {
        Self {
            from,
            to,
            fields: ((1 << to) - 1) & !((1 << from) - 1),
            text,
            eat: text.len() - comma_after as usize,
        }
    }
}

/// From `model` to `output`, with `input` and `output` empty.
const NO_DOCS: &[u8] = b",\"model\":\"\",\"provider\":\"\",\"requested_model\":\"\",\"usage_available\":null,\"reasoning_effort\":\"\",\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0,\"input\":\"\",\"output\":\"\"";
/// From `model` to `total_tokens`, and the comma after it.
const NUMBERS_COMMA: &[u8] = b",\"model\":\"\",\"provider\":\"\",\"requested_model\":\"\",\"usage_available\":null,\"reasoning_effort\":\"\",\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0,";
pub(super) const RUNS: [Run; 5] = [
    Run::new(MODEL, OUTPUT + 1, NO_DOCS, false),
    Run::new(MODEL, INPUT, NUMBERS_COMMA, true),
    Run::new(ERROR_MESSAGE, CAPTURE + 1, b",\"error_message\":null,\"capture\":{\"request\":\"captured\",\"system_prompt\":\"captured\",\"tool_schema\":\"captured\",\"tool_arguments\":\"captured\",\"output\":\"captured\"}", false),
    Run::new(ERROR_MESSAGE, CAPTURE, b",\"error_message\":null,", true),
    Run::new(AGENT_VERSION, USER_ID + 1, b",\"agent_version\":\"\",\"user_id\":\"\"", false),
];
/// The span's tail, from `error_message` to `user_id`: when it is null and the others
/// are what they were in the span before (the SDK writes them once per configuration:
/// capture policy, session, agent), the tail is the same bytes, read the same way (each
/// value a string, an object or null, so the bytes end where the last value ends, and
/// none but `error_message`, null, sets anything in the span). A span whose fields
/// before the tail are all read, and only those, reuses the last such tail read when its
/// text goes on with the same bytes.
pub(super) const TAIL: u32 = ((1 << (USER_ID + 1)) - 1) & !((1 << ERROR_MESSAGE) - 1);
/// The fields where a run may start.
pub(super) const RUN_STARTS: u32 = (1 << MODEL) | (1 << ERROR_MESSAGE) | (1 << AGENT_VERSION);

#[cfg(test)]
thread_local! {
    /// Tests turn the runs, the reuse of checks from span to span and the known `kind`
    /// and `status` tokens off, to compare with the field-by-field path.
    pub(in crate::ingest) static RUNS_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The runs eaten and checks reused so far (tests).
    pub(in crate::ingest) static RUNS_EATEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[inline(always)]
pub(super) fn runs_enabled() -> bool {
    #[cfg(test)]
    return !RUNS_OFF.with(std::cell::Cell::get);
    #[cfg(not(test))]
    true
}
