//! `#[staso::tool(guard)]`: the tool call checked by the guard before the body runs.
//! (Whether `guard` may go on the function is in `check.rs`.)

use super::capture::{capture_traits, write_args, ArgCapture};
use crate::args::SpanArgs;
use crate::return_type::declared;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::ReturnType;

/// The arguments the guard is sent: those the span captures.
pub(super) fn guard_input(a: &SpanArgs, captures: &[ArgCapture]) -> TokenStream {
    if a.guard.is_none() {
        return TokenStream::new();
    }
    let traits = capture_traits();
    let args = write_args(quote!(__staso_guard), captures);
    quote! {
        #[allow(unused_mut)]
        let mut __staso_guard = ::staso::__private::GuardInput::new(&__STASO_CALLSITE);
        if __staso_guard.wants_args() {
            #traits
            #args
        }
    }
}

/// The check before the body, by `call` on the guard input; a block returns
/// `Err(GuardBlocked.into())`. The conversion is spanned at the return type, so a type
/// that cannot carry it is reported there.
pub(super) fn guard_check(a: &SpanArgs, output: &ReturnType, call: TokenStream) -> TokenStream {
    if a.guard.is_none() {
        return TokenStream::new();
    }
    let span = declared(output).map_or_else(Span::call_site, |t| t.span());
    let into = quote_spanned! {span=>
        ::staso::__private::FromGuardBlocked::from_guard_blocked(__staso_blocked)
    };
    quote! {
        if let ::core::result::Result::Err(__staso_blocked) = __staso_guard.#call {
            return ::core::result::Result::Err(#into);
        }
    }
}
