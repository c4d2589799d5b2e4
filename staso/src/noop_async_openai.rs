//! `staso::integrations::async_openai` for builds without the `enable` feature: the same
//! types and signatures, every call passed straight to the client.

use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::traits::RequestOptionsBuilder;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use async_openai::types::responses::{CreateResponse, Response, ResponseStream};
use async_openai::RequestOptions;
use std::ops::{Deref, DerefMut};

/// Returns the client in a wrapper that passes every call through.
#[inline(always)]
pub fn traced<C: Config>(client: async_openai::Client<C>) -> Traced<C> {
    Traced { inner: client }
}

/// An async-openai client (calls pass straight through in this build).
pub struct Traced<C: Config> {
    inner: async_openai::Client<C>,
}

impl<C: Config> Clone for Traced<C>
where
    async_openai::Client<C>: Clone,
{
    fn clone(&self) -> Self {
        Traced {
            inner: self.inner.clone(),
        }
    }
}

impl<C: Config> std::fmt::Debug for Traced<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced").finish_non_exhaustive()
    }
}

impl<C: Config> From<async_openai::Client<C>> for Traced<C> {
    fn from(client: async_openai::Client<C>) -> Self {
        traced(client)
    }
}

impl<C: Config> Deref for Traced<C> {
    type Target = async_openai::Client<C>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<C: Config> Traced<C> {
    /// The wrapped client.
    pub fn into_inner(self) -> async_openai::Client<C> {
        self.inner
    }
    /// Chat completions.
    pub fn chat(&self) -> Chat<'_, C> {
        Chat {
            inner: self.inner.chat(),
        }
    }
    /// Responses.
    pub fn responses(&self) -> Responses<'_, C> {
        Responses {
            inner: self.inner.responses(),
        }
    }
    /// Embeddings.
    pub fn embeddings(&self) -> Embeddings<'_, C> {
        Embeddings {
            inner: self.inner.embeddings(),
        }
    }
}

macro_rules! group {
    ($name:ident) => {
        impl<'c, C: Config> Deref for $name<'c, C> {
            type Target = async_openai::$name<'c, C>;
            fn deref(&self) -> &Self::Target {
                &self.inner
            }
        }

        impl<'c, C: Config> DerefMut for $name<'c, C> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.inner
            }
        }

        impl<'c, C: Config> RequestOptionsBuilder for $name<'c, C> {
            fn options_mut(&mut self) -> &mut RequestOptions {
                self.inner.options_mut()
            }
            fn options(&self) -> &RequestOptions {
                self.inner.options()
            }
        }
    };
}

/// Chat completions (passed through in this build).
pub struct Chat<'c, C: Config> {
    inner: async_openai::Chat<'c, C>,
}
group!(Chat);

/// Responses (passed through in this build).
pub struct Responses<'c, C: Config> {
    inner: async_openai::Responses<'c, C>,
}
group!(Responses);

/// Embeddings (passed through in this build).
pub struct Embeddings<'c, C: Config> {
    inner: async_openai::Embeddings<'c, C>,
}
group!(Embeddings);

impl<C: Config> Chat<'_, C> {
    /// `Chat::create`.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        self.inner.create(request).await
    }
    /// `Chat::create_stream`.
    pub async fn create_stream(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<ChatCompletionResponseStream, OpenAIError> {
        self.inner.create_stream(request).await
    }
}

impl<C: Config> Responses<'_, C> {
    /// `Responses::create`.
    pub async fn create(&self, request: CreateResponse) -> Result<Response, OpenAIError> {
        self.inner.create(request).await
    }
    /// `Responses::create_stream`.
    pub async fn create_stream(
        &self,
        request: CreateResponse,
    ) -> Result<ResponseStream, OpenAIError> {
        self.inner.create_stream(request).await
    }
}

impl<C: Config> Embeddings<'_, C> {
    /// `Embeddings::create`.
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        self.inner.create(request).await
    }
}
