//! An `async fn`: the span is started at the first poll, the arguments captured, and the
//! body becomes an inner `async move` block run inside the span. The async-trait shape
//! instruments its boxed block with the same code.

use super::capture::{capture_block, plain_captures, record_returned, ArgCapture, Probe};
use super::fake_return;
use super::guard::{guard_check, guard_input};
use crate::args::SpanArgs;
use crate::return_type::declared;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ReturnType, Signature, Stmt};

pub(super) fn body(a: &SpanArgs, sig: &Signature, stmts: &[Stmt]) -> TokenStream {
    let captures = plain_captures(sig, a);
    instrumented(a, &captures, Some(&sig.output), quote! { { #(#stmts)* } })
}

/// Start the span, capture the arguments, run `inner` as a future inside the span.
/// `output` is the type `inner` returns, `None` when it is not known.
pub(super) fn instrumented(
    a: &SpanArgs,
    captures: &[ArgCapture],
    output: Option<&ReturnType>,
    inner: TokenStream,
) -> TokenStream {
    let guard_in = guard_input(a, captures);
    let start = start(a, captures, guard_in, Opening::Here);
    let fake = output.map(fake_return);
    let check = match output {
        Some(o) => guard_check(a, o, quote!(check().await)),
        None => TokenStream::new(),
    };
    let run = instrument(record_returned(
        quote!(async move { #fake #check #inner }.await),
        output.and_then(declared),
        Probe::Started,
        a.capture_output,
    ));
    quote! {
        #start
        #run.await
    }
}

/// Where a future's span is opened.
pub(super) enum Opening {
    /// In the poll that goes on into the body's first poll (an `async fn`): current at
    /// once, its frame left on the stack for that poll (`start_here`).
    Here,
    /// Where the future is made, to be polled later, maybe elsewhere (`impl Future`):
    /// carried by the future (`start`).
    Carried,
}

/// Starts `__staso_span` (current when the future is polled), captures the arguments,
/// and reads once whether it wants the output.
pub(super) fn start(
    a: &SpanArgs,
    captures: &[ArgCapture],
    guard_in: TokenStream,
    opening: Opening,
) -> TokenStream {
    let capture = capture_block(a, captures, Probe::Started);
    let entry = match opening {
        Opening::Here => quote!(start_here),
        Opening::Carried => quote!(start),
    };
    quote! {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::#entry(&__STASO_CALLSITE);
        #capture
        #guard_in
        let __staso_wants_output = __staso_span.wants_output();
    }
}

/// The future that runs `body` inside the span.
pub(super) fn instrument(body: TokenStream) -> TokenStream {
    quote! {
        __staso_span.instrument(async move {
            #body
        })
    }
}
