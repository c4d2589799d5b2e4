//! The plain data of LLM calls that both builds share: which provider wire format a JSON
//! body follows, and token usage.

/// The wire format of a provider's request and response bodies. It decides how a JSON
/// body is read into an LLM span (input, parameters, reply, usage, tool calls) and the
/// span's name, the same way the Python SDK names the call it wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// OpenAI Chat Completions (`POST /v1/chat/completions`), and every server that speaks
    /// it: Ollama, vLLM, Groq, Together, OpenRouter, LiteLLM proxy, Azure OpenAI, ...
    OpenAiChat,
    /// OpenAI Responses (`POST /v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`POST /v1/messages`).
    AnthropicMessages,
}

impl Api {
    /// The provider recorded by default (`openai` or `anthropic`); change it with
    /// `LlmSpan::set_provider` for an OpenAI-compatible server.
    pub const fn default_provider(self) -> &'static str {
        match self {
            Api::OpenAiChat | Api::OpenAiResponses => "openai",
            Api::AnthropicMessages => "anthropic",
        }
    }

    /// The name of a streaming call's span (the Python SDK's, fixed per API).
    pub const fn stream_span_name(self) -> &'static str {
        match self {
            Api::OpenAiChat => "openai.chat.completions.create",
            Api::OpenAiResponses => "openai.responses.create",
            Api::AnthropicMessages => "anthropic.messages.create",
        }
    }

    /// The name of a non-streaming call's span until its reply names it (and for good
    /// when the call fails): `chat` or `response`.
    pub const fn placeholder_span_name(self) -> &'static str {
        match self {
            Api::OpenAiChat | Api::AnthropicMessages => "chat",
            Api::OpenAiResponses => "response",
        }
    }

    /// The API a request path belongs to (`/v1/chat/completions`, `/v1/responses`,
    /// `/v1/messages`, with any prefix), for HTTP-level integrations.
    ///
    /// ```
    /// use staso_types::Api;
    /// assert_eq!(Api::from_path("/openai/v1/chat/completions"), Some(Api::OpenAiChat));
    /// assert_eq!(Api::from_path("/v1/messages"), Some(Api::AnthropicMessages));
    /// assert_eq!(Api::from_path("/v1/models"), None);
    /// ```
    pub fn from_path(path: &str) -> Option<Api> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/chat/completions") {
            Some(Api::OpenAiChat)
        } else if path.ends_with("/responses") {
            Some(Api::OpenAiResponses)
        } else if path.ends_with("/messages") {
            Some(Api::AnthropicMessages)
        } else {
            None
        }
    }
}

/// Token usage of one LLM call, for the typed API (`Reply::usage`). `total` defaults to
/// input + output; the breakdowns are sent as the attributes `cache_read_input_tokens`,
/// `cache_write_input_tokens` and `reasoning_tokens`.
///
/// ```
/// use staso_types::Usage;
/// let u = Usage::new(2048, 300).cache_read(1024).reasoning(256);
/// assert_eq!(u.total_tokens(), 2348);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    input: u64,
    output: u64,
    total: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
}

impl Usage {
    /// Input (prompt) and output (completion) tokens.
    pub const fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input: input_tokens,
            output: output_tokens,
            total: None,
            cache_read: None,
            cache_write: None,
            reasoning: None,
        }
    }
    /// The total as the provider reported it (some count more than input + output).
    pub const fn total(mut self, total_tokens: u64) -> Usage {
        self.total = Some(total_tokens);
        self
    }
    /// Input tokens read from the provider's prompt cache.
    pub const fn cache_read(mut self, tokens: u64) -> Usage {
        self.cache_read = Some(tokens);
        self
    }
    /// Input tokens written to the provider's prompt cache.
    pub const fn cache_write(mut self, tokens: u64) -> Usage {
        self.cache_write = Some(tokens);
        self
    }
    /// Output tokens spent on reasoning.
    pub const fn reasoning(mut self, tokens: u64) -> Usage {
        self.reasoning = Some(tokens);
        self
    }
    /// Input tokens.
    pub const fn input_tokens(&self) -> u64 {
        self.input
    }
    /// Output tokens.
    pub const fn output_tokens(&self) -> u64 {
        self.output
    }
    /// The total given, else input + output.
    pub const fn total_tokens(&self) -> u64 {
        match self.total {
            Some(t) => t,
            None => self.input.saturating_add(self.output),
        }
    }
    /// Cache reads, when given.
    pub const fn cache_read_tokens(&self) -> Option<u64> {
        self.cache_read
    }
    /// Cache writes, when given.
    pub const fn cache_write_tokens(&self) -> Option<u64> {
        self.cache_write
    }
    /// Reasoning tokens, when given.
    pub const fn reasoning_tokens(&self) -> Option<u64> {
        self.reasoning
    }
}
