//! Conversations: a session id (and optionally a user) that every span inside carries.

use super::context::{self, Ctx, ScopeGuard};
use super::instrument::WithContext;
use super::record::Conversation;
use std::sync::Arc;

/// Groups every span inside under one conversation (a session on the dashboard) and,
/// optionally, a user.
///
/// ```
/// let answer = staso_core::conversation("conv-42")
///     .user_id("user-alice")
///     .run(|| 6 * 7);
/// assert_eq!(answer, 42);
/// ```
#[must_use = "a conversation does nothing until `.run(..)` or `.scope(..)`"]
#[derive(Debug, Clone)]
pub struct ConversationBuilder {
    session_id: String,
    user_id: Option<String>,
}

/// Starts a conversation with the given id (a session on the dashboard).
pub fn conversation(id: impl Into<String>) -> ConversationBuilder {
    ConversationBuilder {
        session_id: id.into(),
        user_id: None,
    }
}

/// Starts a conversation with a new random id (a UUID v4), as the Python SDK's
/// `conversation()` without an id; read it back with [`ConversationBuilder::id`].
///
/// ```
/// let c = staso_core::new_conversation();
/// assert_eq!(c.id().len(), 36);
/// ```
pub fn new_conversation() -> ConversationBuilder {
    conversation(uuid::Uuid::new_v4().to_string())
}

impl ConversationBuilder {
    /// The user every span inside belongs to.
    pub fn user_id(mut self, user: impl Into<String>) -> Self {
        self.user_id = Some(user.into());
        self
    }

    /// The conversation's id (its session id on the dashboard).
    pub fn id(&self) -> &str {
        &self.session_id
    }

    fn ctx(self) -> Ctx {
        let mut ctx = context::current();
        ctx.conversation = Some(Arc::new(Conversation {
            session_id: self.session_id,
            user_id: self.user_id,
        }));
        ctx
    }

    /// Runs `f` inside the conversation.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _scope = ScopeGuard::enter(self.ctx());
        f()
    }

    /// Wraps a future so that it runs inside the conversation on every poll, whichever
    /// thread polls it.
    pub fn scope<F: std::future::Future>(self, fut: F) -> WithContext<F> {
        WithContext::new(self.ctx(), fut)
    }
}
