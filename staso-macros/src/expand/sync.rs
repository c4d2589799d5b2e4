//! A sync `fn`: the span entered before anything else (its guard ends it on a panic too),
//! the arguments captured, the body run in an immediately called `move` closure so that
//! `return` and `?` keep their meaning and the value can be recorded, and the span ended
//! as returned once it is.

use super::capture::{capture_block, plain_captures, record_returned_then, Probe};
use super::guard::{guard_check, guard_input};
use super::{call_once, fake_return};
use crate::args::SpanArgs;
use crate::return_type::declared;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ReturnType, Signature, Stmt, Type};

pub(super) fn body(
    a: &SpanArgs,
    sig: &Signature,
    stmts: &[Stmt],
    track_caller: bool,
) -> TokenStream {
    let captures = plain_captures(sig, a);
    let capture = capture_block(a, &captures, Probe::Entered);
    let guard_in = guard_input(a, &captures);
    let check = guard_check(a, &sig.output, quote!(check_blocking()));
    let open = quote! {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
        #capture
        __staso_span.opened();
        #guard_in
    };
    match &sig.output {
        // Never returns: the guard ends the span if it unwinds. `#[track_caller]`: a
        // closure would become the caller `Location::caller()` sees, so the body stays
        // in place and the result is not seen (errors and panics still end the span).
        ReturnType::Type(_, t) if matches!(**t, Type::Never(_)) => {
            return quote! { #open #(#stmts)* };
        }
        _ if track_caller => return quote! { #open #check #(#stmts)* },
        _ => {}
    }
    let fake = fake_return(&sig.output);
    let call_once = call_once();
    // The span ends as returned once the value is recorded: its function's code ran to
    // the end (see `FnSpan::returned`). On the paths above, and when the body unwinds,
    // the guard's drop ends it.
    let returned = record_returned_then(
        quote!(__staso_call_once(move || { #fake #check { #(#stmts)* } })),
        declared(&sig.output),
        Probe::Entered,
        a.capture_output,
        quote!(__staso_span.returned();),
    );
    quote! {
        #open
        #call_once
        #returned
    }
}
