//! `fn .. -> impl Future<Output = T>`: the body runs (in a closure, for `return`) when the
//! function is called, and the future it returns is wrapped to run inside the span.

use super::async_fn::{instrument, start, Opening};
use super::call_once;
use super::capture::{plain_captures, record_returned, Probe};
use crate::args::SpanArgs;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Signature, Stmt, Type};

/// `unpin`: the declared type promises `Unpin`, so the wrapper is boxed.
pub(super) fn body(
    a: &SpanArgs,
    sig: &Signature,
    output: Option<&Type>,
    unpin: bool,
    stmts: &[Stmt],
) -> TokenStream {
    let captures = plain_captures(sig, a);
    // `guard` is refused on this shape: part of the body runs before the first poll.
    let start = start(a, &captures, TokenStream::new(), Opening::Carried);
    let wrapped = instrument(record_returned(
        quote!(__staso_fut.await),
        output,
        Probe::Started,
        a.capture_output,
    ));
    let wrapped = if unpin {
        quote!(::std::boxed::Box::pin(#wrapped))
    } else {
        wrapped
    };
    let call_once = call_once();
    quote! {
        #start
        #call_once
        let __staso_fut = __staso_call_once(move || { #(#stmts)* });
        #wrapped
    }
}
