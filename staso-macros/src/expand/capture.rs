//! The capture code every shape shares: the arguments written into the span's input, the
//! metadata, and the returned value (or its error) recorded as the span's output.
//!
//! A value is captured with `(&&&&Capture(value)).__staso_capture(out)`: method lookup
//! through the references picks a plain scalar, then `Serialize`, then `Debug`, then a
//! placeholder.

use crate::args::SpanArgs;
use crate::item::bindings;
use crate::return_type::is_result;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Attribute, FnArg, Ident, Pat, Signature, Type};

/// One argument to capture: its key in the input object and an expression borrowing it.
pub(super) struct ArgCapture {
    pub key: String,
    pub value: TokenStream,
    /// The argument's own `#[cfg(..)]`s: an argument compiled out is not captured.
    pub cfgs: Vec<Attribute>,
}

impl ArgCapture {
    /// `value` captured under `key`'s name, with the cfgs among `attrs` (the argument's
    /// own, evaluated with the user's features).
    pub fn new(key: &Ident, value: TokenStream, attrs: &[Attribute]) -> ArgCapture {
        ArgCapture {
            key: key.unraw().to_string(),
            value,
            cfgs: attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect(),
        }
    }
}

/// Where generated code finds out whether the span records and wants its output.
#[derive(Clone, Copy)]
pub(super) enum Probe {
    /// Sync shape: the entered span `__staso_span` itself.
    Entered,
    /// Async shapes: the span is moved into the future, so the global switch and the
    /// `__staso_wants_output` read when it started.
    Started,
}

impl Probe {
    fn recording(self) -> TokenStream {
        match self {
            Probe::Entered => quote!(__staso_span.is_recording()),
            Probe::Started => quote!(::staso::__private::enabled()),
        }
    }

    /// What records the returned value: the entered span's own method, or (in a future,
    /// where the span is current) the innermost span's.
    fn output(self) -> TokenStream {
        match self {
            Probe::Entered => quote!(__staso_span.output),
            Probe::Started => quote!(::staso::__private::record_output),
        }
    }

    /// What records an `Err`, like [`Probe::output`].
    fn error(self) -> TokenStream {
        match self {
            Probe::Entered => quote!(__staso_span.error),
            Probe::Started => quote!(::staso::__private::record_error),
        }
    }

    fn wants_output(self) -> TokenStream {
        match self {
            Probe::Entered => quote!(__staso_span.wants_output()),
            Probe::Started => quote!(__staso_wants_output),
        }
    }
}

/// The arguments of a function as written: every binding of every pattern, minus `self`,
/// `_` and the skipped ones.
pub(super) fn plain_captures(sig: &Signature, a: &SpanArgs) -> Vec<ArgCapture> {
    if !a.capture_input {
        return Vec::new();
    }
    let typed = sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Typed(t) => Some(t),
        FnArg::Receiver(_) => None,
    });
    typed
        .flat_map(|t| bindings_captured(&t.pat, a, &t.attrs))
        .collect()
}

/// Every binding of `pat` that is not skipped, by its name.
pub(super) fn bindings_captured(pat: &Pat, a: &SpanArgs, attrs: &[Attribute]) -> Vec<ArgCapture> {
    let mut ids = Vec::new();
    bindings(pat, &mut ids);
    ids.into_iter()
        .filter(|i| !is_skipped(a, i))
        .map(|id| ArgCapture::new(&id, quote!(&#id), attrs))
        .collect()
}

pub(super) fn is_skipped(a: &SpanArgs, id: &Ident) -> bool {
    a.skip.iter().any(|s| s.unraw() == id.unraw())
}

/// The capture of `value` into `__staso_out`.
fn capture(value: TokenStream) -> TokenStream {
    quote! {
        (&&&&::staso::__private::Capture(#value)).__staso_capture(__staso_out)
    }
}

/// Brings the capture traits into scope, for `capture`'s method lookup.
pub(super) fn capture_traits() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _, CaptureSerialize as _,
        };
    }
}

/// `<into>.arg_known(key, secret, ..)` for each argument, under its own cfgs: whether the
/// key looks secret is a constant, evaluated by the compiler.
pub(super) fn write_args(into: TokenStream, captures: &[ArgCapture]) -> TokenStream {
    captures
        .iter()
        .map(|c| {
            let (key, cfgs) = (&c.key, &c.cfgs);
            let capture = capture(c.value.clone());
            quote! {
                #(#cfgs)*
                #into.arg_known(
                    #key,
                    {
                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(#key);
                        __STASO_SECRET
                    },
                    |__staso_out| {
                        #capture
                    },
                );
            }
        })
        .collect()
}

/// Input capture and metadata, run right after the span is opened.
pub(super) fn capture_block(a: &SpanArgs, captures: &[ArgCapture], probe: Probe) -> TokenStream {
    if captures.is_empty() && a.metadata.is_empty() {
        return TokenStream::new();
    }
    // All arguments in one call: one document, written in one go.
    let args = if captures.is_empty() {
        TokenStream::new()
    } else {
        let args = write_args(quote!(__staso_input), captures);
        quote! {
            if __staso_span.wants_input() {
                __staso_span.args(&__STASO_CALLSITE, |__staso_input| { #args });
            }
        }
    };
    let meta = if a.metadata.is_empty() {
        TokenStream::new()
    } else {
        let recording = probe.recording();
        let capture = capture(quote!(__staso_value));
        let meta = a.metadata.iter().map(|(k, v)| {
            quote! {
                {
                    // Evaluated here, outside the capture: a panic in it is the user's own.
                    let __staso_value = &#v;
                    __staso_span.metadata(#k, |__staso_out| {
                        #capture
                    });
                }
            }
        });
        quote! { if #recording { #(#meta)* } }
    };
    let traits = capture_traits();
    quote! {
        {
            #traits
            #args
            #meta
        }
    }
}

/// `let __staso_ret = <ret>;`, then its output (`{"result": ..}`) or, for an `Err`, its
/// error recorded, and `__staso_ret` as the value of the block.
///
/// `capture_output` is the attribute's: `false` leaves out the result's recording (an
/// `Err` is still recorded), so a function that never captures its result carries no
/// code for it (the code for it made the span's frame larger on every call).
pub(super) fn record_returned(
    ret: TokenStream,
    output: Option<&Type>,
    probe: Probe,
    capture_output: bool,
) -> TokenStream {
    record_returned_then(ret, output, probe, capture_output, TokenStream::new())
}

/// [`record_returned`], running `then` after the value is recorded (the sync form ends
/// its span there).
pub(super) fn record_returned_then(
    ret: TokenStream,
    output: Option<&Type>,
    probe: Probe,
    capture_output: bool,
    then: TokenStream,
) -> TokenStream {
    let done = outcome(output, probe, capture_output);
    quote! {
        #[allow(clippy::let_unit_value)]
        let __staso_ret = #ret;
        #done
        #then
        __staso_ret
    }
}

/// What to do with the returned value `__staso_ret`.
fn outcome(output: Option<&Type>, probe: Probe, capture_output: bool) -> TokenStream {
    let (wants_output, recording) = (probe.wants_output(), probe.recording());
    let (record_output, record_error) = (probe.output(), probe.error());
    let traits = capture_traits();
    if output.is_some_and(is_result) {
        let capture = capture(quote!(__staso_ok));
        let ok = if capture_output {
            quote! {
                ::core::result::Result::Ok(__staso_ok) => {
                    if #wants_output {
                        #record_output(|__staso_out| {
                            #capture
                        });
                    }
                }
            }
        } else {
            quote! { ::core::result::Result::Ok(_) => {} }
        };
        quote! {
            if #recording {
                #traits
                #[allow(unused_imports)]
                use ::staso::__private::{ErrorDebug as _, ErrorDisplay as _, ErrorOpaque as _};
                match &__staso_ret {
                    #ok
                    ::core::result::Result::Err(__staso_err) => {
                        #record_error(__staso_err, |__staso_out| {
                            (&&&::staso::__private::ErrorText(__staso_err))
                                .__staso_error_text(__staso_out)
                        });
                    }
                }
            }
        }
    } else if !capture_output {
        TokenStream::new()
    } else {
        let capture = capture(quote!(&__staso_ret));
        quote! {
            if #wants_output {
                #traits
                #record_output(|__staso_out| {
                    #capture
                });
            }
        }
    }
}
