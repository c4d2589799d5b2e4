//! Code generation for `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`.
//!
//! Four shapes, chosen from the signature and body:
//! - sync `fn`: a guard opened first (so a panic still ends the span), the body run in an
//!   immediately called `move` closure (as tracing-attributes does for `ret`/`err`) so
//!   `return` and `?` keep their meaning and the value can be seen;
//! - `async fn`: the span is started at the first poll, arguments captured, and the body
//!   becomes an inner `async move` block instrumented with the span;
//! - `fn .. -> impl Future`: the returned future is wrapped the same way;
//! - an `#[async_trait]` method (`Box::pin(async move { .. })` as last statement): the
//!   boxed async block is instrumented from the inside.
//!
//! Generated code names only `::staso::__private::*`, `::core` and `::std`.

use crate::args::{self, bindings, Body, FnArgs, FnItem, Which};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Expr, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Stmt, Type,
    TypeParamBound,
};

/// Entry point of the three function attributes. Arguments and item are checked in both
/// modes; only with `enabled` is the function rewritten.
pub(crate) fn fn_attr(
    which: Which,
    args: TokenStream,
    item: TokenStream,
    enabled: bool,
) -> TokenStream {
    let (fargs, f) = match (
        FnArgs::parse(which, args),
        args::parse_fn(item.clone(), which.attr()),
    ) {
        (Ok(a), Ok(f)) => (a, f),
        (Err(mut e), Err(e2)) => {
            e.combine(e2);
            return with_error(e, item);
        }
        (Err(e), _) | (_, Err(e)) => return with_error(e, item),
    };
    if let Err(e) = args::check_fn(which, &fargs, &f).and_then(|()| check_guard(&fargs, &f)) {
        return with_error(e, item);
    }
    if !enabled {
        return item;
    }
    let Some((_, tokens)) = &f.body else {
        return item;
    };
    // A body that does not parse goes back untouched: rustc then reports the user's error.
    let Ok(body) = syn::parse2::<Body>(tokens.clone()) else {
        return item;
    };
    instrument(&fargs, &f, body)
}

/// The compile error followed by the item as it was, so the rest of the crate (and the
/// IDE) still sees the function.
pub(crate) fn with_error(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.to_compile_error();
    out.extend(item);
    out
}

/// One argument to capture: its key in the input object and an expression borrowing it.
struct ArgCapture {
    key: String,
    value: TokenStream,
    /// The argument's own `#[cfg(..)]`s: an argument compiled out is not captured.
    cfgs: Vec<syn::Attribute>,
}

/// The `cfg` attributes of an argument (the user's own, evaluated with their features).
fn cfgs(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

fn instrument(a: &FnArgs, f: &FnItem, body: Body) -> TokenStream {
    let sig = &f.sig;
    let ident = &sig.ident;
    let function = ident.unraw().to_string();
    let name = a
        .name
        .as_ref()
        .map_or_else(|| function.clone(), |s| s.value());
    let kind = format_ident!("{}", format!("{:?}", a.kind));
    // `line!()` spanned at the function's name gives the line of the name.
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let tags = &a.tags;
    let (ci, co) = (a.capture_input, a.capture_output);
    let items = quote! {
        ::staso::__private::inventory::submit! {
            ::staso::__private::Entry(::staso::__private::Registered {
                name: #name,
                kind: ::staso::__private::Kind::#kind,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
            })
        }
        static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
            name: #name,
            kind: ::staso::__private::Kind::#kind,
            function: #function,
            module_path: ::core::module_path!(),
            file: ::core::file!(),
            line: #line,
            tags: &[#(#tags),*],
            capture_input: #ci,
            capture_output: #co,
        };
    };

    let Body { inner_attrs, stmts } = body;
    let attrs = &f.attrs;
    let vis = &f.vis;

    let new_body = if sig.asyncness.is_some() {
        let captures = plain_captures(sig, a);
        let output = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, t) => Some((**t).clone()),
        };
        let inner = quote! { { #(#stmts)* } };
        async_body(a, &captures, Some(&sig.output), output.as_ref(), inner)
    } else if let Some((output, unpin)) = impl_future_output(&sig.output) {
        impl_future_body(a, sig, output.as_ref(), unpin, &stmts)
    } else if let Some((before, call, block_stmts)) = async_trait_parts(&stmts) {
        async_trait_body(a, sig, before, call, block_stmts)
    } else {
        let track_caller = f.attrs.iter().any(|at| at.path().is_ident("track_caller"));
        sync_body(a, sig, &stmts, track_caller)
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #items
            #new_body
        }
    }
}

/// The arguments of a function as written: every binding of every pattern, minus `self`,
/// `_` and the skipped ones.
fn plain_captures(sig: &Signature, a: &FnArgs) -> Vec<ArgCapture> {
    let mut out = Vec::new();
    if !a.capture_input {
        return out;
    }
    for arg in &sig.inputs {
        if let FnArg::Typed(t) = arg {
            let mut ids = Vec::new();
            bindings(&t.pat, &mut ids);
            for id in ids {
                if !is_skipped(a, &id) {
                    out.push(ArgCapture {
                        key: id.unraw().to_string(),
                        value: quote!(&#id),
                        cfgs: cfgs(&t.attrs),
                    });
                }
            }
        }
    }
    out
}

fn is_skipped(a: &FnArgs, id: &Ident) -> bool {
    a.skip.iter().any(|s| s.unraw() == id.unraw())
}

/// Input capture and metadata, run right after the span is opened. `recording` is the
/// condition guarding the metadata.
fn capture_block(a: &FnArgs, captures: &[ArgCapture], recording: TokenStream) -> TokenStream {
    if captures.is_empty() && a.metadata.is_empty() {
        return TokenStream::new();
    }
    let args = captures.iter().map(|c| {
        let (key, value, cfgs) = (&c.key, &c.value, &c.cfgs);
        quote! {
            #(#cfgs)*
            __staso_input.arg(#key, |__staso_out| {
                (&&&::staso::__private::Capture(#value)).__staso_capture(__staso_out)
            });
        }
    });
    // All arguments in one call: one document, written in one go.
    let args = if captures.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            if __staso_span.wants_input() {
                __staso_span.args(|__staso_input| { #(#args)* });
            }
        }
    };
    let meta = a.metadata.iter().map(|(k, v)| {
        quote! {
            {
                // Evaluated here, outside the capture: a panic in it is the user's own.
                let __staso_value = &#v;
                __staso_span.metadata(#k, |__staso_out| {
                    (&&&::staso::__private::Capture(__staso_value)).__staso_capture(__staso_out)
                });
            }
        }
    });
    let meta = if a.metadata.is_empty() {
        TokenStream::new()
    } else {
        quote! { if #recording { #(#meta)* } }
    };
    quote! {
        {
            #[allow(unused_imports)]
            use ::staso::__private::{CaptureDebug as _, CaptureOpaque as _, CaptureSerialize as _};
            #args
            #meta
        }
    }
}

/// What to do with the returned value `__staso_ret`: `{"result": ..}`, or for an `Err`, the
/// error. `wants_output` and `recording` are the conditions to test.
fn outcome(
    output: Option<&Type>,
    wants_output: TokenStream,
    recording: TokenStream,
) -> TokenStream {
    let capture_traits = quote! {
        #[allow(unused_imports)]
        use ::staso::__private::{CaptureDebug as _, CaptureOpaque as _, CaptureSerialize as _};
    };
    if output.is_some_and(is_result) {
        let uses = quote! {
            #capture_traits
            #[allow(unused_imports)]
            use ::staso::__private::{ErrorDebug as _, ErrorDisplay as _, ErrorOpaque as _};
        };
        quote! {
            if #recording {
                #uses
                match &__staso_ret {
                    ::core::result::Result::Ok(__staso_ok) => {
                        if #wants_output {
                            ::staso::__private::record_output(|__staso_out| {
                                (&&&::staso::__private::Capture(__staso_ok))
                                    .__staso_capture(__staso_out)
                            });
                        }
                    }
                    ::core::result::Result::Err(__staso_err) => {
                        ::staso::__private::record_error(__staso_err, |__staso_out| {
                            (&&&::staso::__private::ErrorText(__staso_err))
                                .__staso_error_text(__staso_out)
                        });
                    }
                }
            }
        }
    } else {
        quote! {
            if #wants_output {
                #capture_traits
                ::staso::__private::record_output(|__staso_out| {
                    (&&&::staso::__private::Capture(&__staso_ret)).__staso_capture(__staso_out)
                });
            }
        }
    }
}

/// `#[staso::tool(guard)]`: the arguments the guard is sent (those the span captures).
fn guard_input(a: &FnArgs, captures: &[ArgCapture]) -> TokenStream {
    if a.guard.is_none() {
        return TokenStream::new();
    }
    let args = captures.iter().map(|c| {
        let (key, value, cfgs) = (&c.key, &c.value, &c.cfgs);
        quote! {
            #(#cfgs)*
            __staso_guard.arg(#key, |__staso_out| {
                (&&&::staso::__private::Capture(#value)).__staso_capture(__staso_out)
            });
        }
    });
    quote! {
        #[allow(unused_mut)]
        let mut __staso_guard = ::staso::__private::GuardInput::new(&__STASO_CALLSITE);
        if __staso_guard.wants_args() {
            #[allow(unused_imports)]
            use ::staso::__private::{CaptureDebug as _, CaptureOpaque as _, CaptureSerialize as _};
            #(#args)*
        }
    }
}

/// `#[staso::tool(guard)]`: the check before the body; a block returns
/// `Err(GuardBlocked.into())`. The conversion is spanned at the return type, so a type
/// that cannot carry it is reported there.
fn guard_check(a: &FnArgs, output: &ReturnType, call: TokenStream) -> TokenStream {
    if a.guard.is_none() {
        return TokenStream::new();
    }
    let span = match output {
        ReturnType::Type(_, t) => t.span(),
        ReturnType::Default => Span::call_site(),
    };
    let into = quote_spanned! {span=>
        ::staso::__private::FromGuardBlocked::from_guard_blocked(__staso_blocked)
    };
    quote! {
        if let ::core::result::Result::Err(__staso_blocked) = __staso_guard.#call {
            return ::core::result::Result::Err(#into);
        }
    }
}

/// `guard` needs a body that has not started when the check runs, and a `Result` to
/// return a blocked call in: checked in both modes, so misuse is an error either way.
fn check_guard(a: &FnArgs, f: &FnItem) -> syn::Result<()> {
    if a.guard.is_none() {
        return Ok(());
    }
    const HOW: &str = "return e.g. `Result<T, Box<dyn std::error::Error + Send + Sync>>`, \
        `anyhow::Result<T>`, or a `Result` whose error type implements `From<staso::GuardBlocked>`";
    let declared = match &f.sig.output {
        ReturnType::Type(_, t) => Some(&**t),
        ReturnType::Default => None,
    };
    if f.sig.asyncness.is_none() && impl_future_output(&f.sig.output).is_some() {
        return Err(syn::Error::new_spanned(
            declared,
            "`#[staso::tool(guard)]` cannot go on a function returning `impl Future`: part of its \
             body runs before the future is polled, and the check must come first; make it an `async fn`",
        ));
    }
    // An async-trait method returns its `Result` inside a boxed future.
    let boxed = match (&f.sig.asyncness, declared) {
        (None, Some(t)) => boxed_future_output(t),
        _ => None,
    };
    match boxed.as_ref().or(declared) {
        Some(t) if is_result(t) => Ok(()),
        Some(t) => Err(syn::Error::new_spanned(
            t,
            format!(
                "`#[staso::tool(guard)]` needs a function that returns a `Result`: a blocked call \
                 returns `Err(staso::GuardBlocked.into())` instead of running the body; {HOW}"
            ),
        )),
        None => Err(syn::Error::new_spanned(
            &f.sig.ident,
            format!(
                "`#[staso::tool(guard)]` needs a function that returns a `Result`, and `{}` returns \
                 nothing: a blocked call returns `Err(staso::GuardBlocked.into())` instead of running \
                 the body; {HOW}",
                f.sig.ident
            ),
        )),
    }
}

/// An unreachable `return` of the declared type, so that `?` and `return` inside the
/// closure or async block the body is moved into infer that type (tracing-attributes'
/// trick). `impl Trait` cannot be written there and is erased to `_`.
fn fake_return_edge(output: &ReturnType) -> TokenStream {
    let ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, t) => {
            let mut t = (**t).clone();
            EraseImplTrait.visit_type_mut(&mut t);
            t.into_token_stream()
        }
    };
    quote! {
        #[allow(
            unknown_lints, unreachable_code, clippy::diverging_sub_expression,
            clippy::let_unit_value, clippy::unreachable, clippy::let_with_type_underscore,
            clippy::empty_loop
        )]
        if false {
            let __staso_fake_return: #ty = loop {};
            return __staso_fake_return;
        }
    }
}

struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, t: &mut Type) {
        if let Type::ImplTrait(i) = t {
            *t = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](i.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, t);
        }
    }
}

/// Calls the closure the body is moved into. Passing it where `FnOnce` is expected makes
/// it an `FnOnce` closure, which may return borrows of what it captured (a method on
/// `&mut self` returning `&mut self.field`); called in place it would be `FnMut`.
fn call_once() -> TokenStream {
    quote! {
        #[inline(always)]
        fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
            f()
        }
    }
}

fn sync_body(a: &FnArgs, sig: &Signature, stmts: &[Stmt], track_caller: bool) -> TokenStream {
    let captures = plain_captures(sig, a);
    let capture = capture_block(a, &captures, quote!(__staso_span.is_recording()));
    let guard_in = guard_input(a, &captures);
    let check = guard_check(a, &sig.output, quote!(check_blocking()));
    let open = quote! {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
        #capture
        __staso_span.opened();
        #guard_in
    };
    let output = match &sig.output {
        // Never returns: the guard ends the span if it unwinds. `#[track_caller]`: a
        // closure would become the caller `Location::caller()` sees, so the body stays
        // in place and the result is not seen (errors and panics still end the span).
        ReturnType::Type(_, t) if matches!(**t, Type::Never(_)) => {
            return quote! { #open #(#stmts)* };
        }
        _ if track_caller => return quote! { #open #check #(#stmts)* },
        ReturnType::Type(_, t) => Some(&**t),
        ReturnType::Default => None,
    };
    let fake = fake_return_edge(&sig.output);
    let call_once = call_once();
    let done = outcome(
        output,
        quote!(__staso_span.wants_output()),
        quote!(__staso_span.is_recording()),
    );
    quote! {
        #open
        #call_once
        #[allow(clippy::let_unit_value)]
        let __staso_ret = __staso_call_once(move || { #fake #check { #(#stmts)* } });
        #done
        __staso_ret
    }
}

/// The body of an async function (or of an async-trait method's boxed block): start the
/// span, capture the arguments, run `inner` as an instrumented future.
fn async_body(
    a: &FnArgs,
    captures: &[ArgCapture],
    declared: Option<&ReturnType>,
    output: Option<&Type>,
    inner: TokenStream,
) -> TokenStream {
    let capture = capture_block(a, captures, quote!(::staso::__private::enabled()));
    let fake = declared.map(fake_return_edge);
    let done = outcome(
        output,
        quote!(__staso_wants_output),
        quote!(::staso::__private::enabled()),
    );
    let guard_in = guard_input(a, captures);
    let check = match declared {
        Some(d) => guard_check(a, d, quote!(check().await)),
        None => TokenStream::new(),
    };
    quote! {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::start(&__STASO_CALLSITE);
        #capture
        #guard_in
        let __staso_wants_output = __staso_span.wants_output();
        __staso_span.instrument(async move {
            #[allow(clippy::let_unit_value)]
            let __staso_ret = async move { #fake #check #inner }.await;
            #done
            __staso_ret
        }).await
    }
}

/// `fn .. -> impl Future<Output = T>`: run the body (in a closure, for `return`), then wrap
/// the future it returns.
fn impl_future_body(
    a: &FnArgs,
    sig: &Signature,
    output: Option<&Type>,
    unpin: bool,
    stmts: &[Stmt],
) -> TokenStream {
    let captures = plain_captures(sig, a);
    let capture = capture_block(a, &captures, quote!(::staso::__private::enabled()));
    let done = outcome(
        output,
        quote!(__staso_wants_output),
        quote!(::staso::__private::enabled()),
    );
    let wrapped = quote! {
        __staso_span.instrument(async move {
            #[allow(clippy::let_unit_value)]
            let __staso_ret = __staso_fut.await;
            #done
            __staso_ret
        })
    };
    let call_once = call_once();
    let wrapped = if unpin {
        quote!(::std::boxed::Box::pin(#wrapped))
    } else {
        wrapped
    };
    quote! {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::start(&__STASO_CALLSITE);
        #capture
        let __staso_wants_output = __staso_span.wants_output();
        #call_once
        let __staso_fut = __staso_call_once(move || { #(#stmts)* });
        #wrapped
    }
}

/// `Some((Output type, has an Unpin bound))` when the return type is `impl Future<..>`.
fn impl_future_output(output: &ReturnType) -> Option<(Option<Type>, bool)> {
    let ReturnType::Type(_, t) = output else {
        return None;
    };
    let Type::ImplTrait(it) = peel(t) else {
        return None;
    };
    let mut future = None;
    let mut unpin = false;
    for b in &it.bounds {
        if let TypeParamBound::Trait(tb) = b {
            let Some(last) = tb.path.segments.last() else {
                continue;
            };
            if last.ident == "Future" {
                future = Some(assoc_output(&last.arguments));
            } else if last.ident == "Unpin" {
                unpin = true;
            }
        }
    }
    future.map(|o| (o, unpin))
}

/// `Output = T` among the generic arguments of a `Future<..>` segment.
fn assoc_output(args: &PathArguments) -> Option<Type> {
    let PathArguments::AngleBracketed(ab) = args else {
        return None;
    };
    ab.args.iter().find_map(|g| match g {
        GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
        _ => None,
    })
}

/// The `Output` of a boxed future type: `Pin<Box<dyn Future<Output = T> + ..>>` (what
/// async-trait writes), or the last type argument of a `BoxFuture<'a, T>`-like alias.
fn boxed_future_output(t: &Type) -> Option<Type> {
    match peel(t) {
        Type::TraitObject(obj) => obj.bounds.iter().find_map(|b| match b {
            TypeParamBound::Trait(tb) => tb
                .path
                .segments
                .last()
                .filter(|s| s.ident == "Future")
                .and_then(|s| assoc_output(&s.arguments)),
            _ => None,
        }),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            let PathArguments::AngleBracketed(ab) = &last.arguments else {
                return None;
            };
            if last.ident == "Pin" || last.ident == "Box" {
                ab.args.iter().find_map(|g| match g {
                    GenericArgument::Type(inner) => boxed_future_output(inner),
                    _ => None,
                })
            } else if last.ident.to_string().ends_with("BoxFuture") {
                ab.args.iter().rev().find_map(|g| match g {
                    GenericArgument::Type(inner) => Some(inner.clone()),
                    _ => None,
                })
            } else {
                None
            }
        }
        _ => None,
    }
}

fn peel(t: &Type) -> &Type {
    match t {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        _ => t,
    }
}

/// Whether a type is syntactically a `Result` (`Result<..>`, `io::Result<T>`, ...).
fn is_result(t: &Type) -> bool {
    match peel(t) {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// `(statements before, the Box::pin(..) call, the async block's statements)` when the
/// body ends in `Box::pin(async move { .. })`, as async-trait writes it.
fn async_trait_parts(stmts: &[Stmt]) -> Option<(&[Stmt], &syn::ExprCall, &[Stmt])> {
    let (last, before) = stmts.split_last()?;
    let Stmt::Expr(Expr::Call(call), None) = last else {
        return None;
    };
    let Expr::Path(p) = &*call.func else {
        return None;
    };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if segs.len() < 2 || segs[segs.len() - 2..] != ["Box", "pin"] || call.args.len() != 1 {
        return None;
    }
    let Some(Expr::Async(block)) = call.args.first() else {
        return None;
    };
    Some((before, call, &block.block.stmts))
}

fn async_trait_body(
    a: &FnArgs,
    sig: &Signature,
    before: &[Stmt],
    call: &syn::ExprCall,
    block_stmts: &[Stmt],
) -> TokenStream {
    let output = match &sig.output {
        ReturnType::Type(_, t) => boxed_future_output(t),
        ReturnType::Default => None,
    };
    let captures = async_trait_captures(sig, a, block_stmts);
    let inner = quote! { { #(#block_stmts)* } };
    // Unknown output type: async-trait's own inference line inside the block suffices.
    let declared = output
        .as_ref()
        .map(|t| ReturnType::Type(Default::default(), Box::new(t.clone())));
    let body = async_body(a, &captures, declared.as_ref(), output.as_ref(), inner);
    let func = &call.func;
    let async_block = match call.args.first() {
        Some(Expr::Async(b)) => b,
        _ => unreachable!("checked by async_trait_parts"),
    };
    let (attrs, capture) = (&async_block.attrs, &async_block.capture);
    quote! {
        #(#before)*
        #func(#(#attrs)* async #capture { #body })
    }
}

/// Captures of an async-trait method: plain arguments by their name; arguments
/// async-trait renamed `__argN` (patterns, `_`) through the `let <pattern> = __argN;` it
/// put at the start of the block, by borrowing `__argN` with that pattern.
fn async_trait_captures(sig: &Signature, a: &FnArgs, block_stmts: &[Stmt]) -> Vec<ArgCapture> {
    let mut out = Vec::new();
    if !a.capture_input {
        return out;
    }
    for arg in &sig.inputs {
        let FnArg::Typed(t) = arg else { continue };
        let Pat::Ident(pi) = &*t.pat else {
            out.extend(plain_captures_of(&t.pat, a, &t.attrs));
            continue;
        };
        let outer = &pi.ident;
        if !outer.to_string().starts_with("__arg") {
            if !is_skipped(a, outer) {
                out.push(ArgCapture {
                    key: outer.unraw().to_string(),
                    value: quote!(&#outer),
                    cfgs: cfgs(&t.attrs),
                });
            }
            continue;
        }
        // `_` becomes `let __argN = __argN;` (nothing to capture); a pattern becomes
        // `let <pattern> = { let __argN = __argN; __argN };`.
        let Some(pat) = block_stmts.iter().find_map(|s| match s {
            Stmt::Local(l) => match l.init.as_ref().map(|i| &*i.expr) {
                Some(Expr::Block(b)) if block_yields(&b.block, outer) => Some(&l.pat),
                _ => None,
            },
            _ => None,
        }) else {
            continue;
        };
        let mut ids = Vec::new();
        bindings(pat, &mut ids);
        let ids: Vec<Ident> = ids.into_iter().filter(|i| !is_skipped(a, i)).collect();
        if ids.is_empty() {
            continue;
        }
        let mut borrowed = pat.clone();
        BorrowPattern { skip: &a.skip }.visit_pat_mut(&mut borrowed);
        for id in ids {
            let key = id.unraw().to_string();
            out.push(ArgCapture {
                key,
                value: quote! {{
                    #[allow(unused_variables, clippy::toplevel_ref_arg)]
                    let #borrowed = &#outer;
                    #id
                }},
                cfgs: cfgs(&t.attrs),
            });
        }
    }
    out
}

/// Whether a block ends with the bare identifier `id`.
fn block_yields(b: &syn::Block, id: &Ident) -> bool {
    matches!(b.stmts.last(), Some(Stmt::Expr(Expr::Path(p), None)) if p.path.is_ident(id))
}

fn plain_captures_of(pat: &Pat, a: &FnArgs, attrs: &[syn::Attribute]) -> Vec<ArgCapture> {
    let mut ids = Vec::new();
    bindings(pat, &mut ids);
    ids.into_iter()
        .filter(|i| !is_skipped(a, i))
        .map(|id| ArgCapture {
            key: id.unraw().to_string(),
            value: quote!(&#id),
            cfgs: cfgs(attrs),
        })
        .collect()
}

/// Rewrites a pattern to bind by reference when matched against `&value`: `mut`, `ref`
/// and `ref mut` are dropped (default binding modes then bind references) and skipped
/// bindings become `_`.
struct BorrowPattern<'a> {
    skip: &'a [Ident],
}

impl VisitMut for BorrowPattern<'_> {
    fn visit_pat_mut(&mut self, p: &mut Pat) {
        if let Pat::Ident(pi) = p {
            if pi.subpat.is_none() && self.skip.iter().any(|s| s.unraw() == pi.ident.unraw()) {
                *p = Pat::Wild(syn::PatWild {
                    attrs: Vec::new(),
                    underscore_token: syn::Token![_](Span::call_site()),
                });
                return;
            }
            pi.by_ref = None;
            pi.mutability = None;
        }
        syn::visit_mut::visit_pat_mut(self, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(which: Which, args: TokenStream, item: TokenStream, enabled: bool) -> String {
        fn_attr(which, args, item, enabled).to_string()
    }

    #[test]
    fn disabled_mode_returns_the_item_untouched() {
        let items = [
            quote! { pub fn add(a: u32, b: u32) -> u32 { a + b } },
            quote! { #[no_mangle] pub fn s(v: &[u64]) -> u64 { v.iter().sum() } },
            quote! { async fn fetch(&self, (a, b): (u8, u8), _: u8) -> Result<u8, String> { Ok(a + b) } },
            quote! { fn gen<T: Clone>(x: impl Into<T>) -> impl std::future::Future<Output = T> { async move { x.into() } } },
        ];
        for which in [Which::Agent, Which::Tool, Which::Trace] {
            for item in &items {
                let args = quote! { name = "x", tags = ["a"], metadata(team = "b"), capture_input = false };
                assert_eq!(
                    run(which, args, item.clone(), false),
                    item.to_string(),
                    "{which:?}"
                );
            }
        }
        let main = quote! { #[tokio::main] async fn main() -> Result<(), String> { Ok(()) } };
        let out = crate::main_attr::main_attr(
            quote!(agent_name = "a", flush_interval = 0.5),
            main.clone(),
            false,
        );
        assert_eq!(out.to_string(), main.to_string());
    }

    #[test]
    fn disabled_mode_still_reports_misuse() {
        let out = run(
            Which::Tool,
            quote!(nme = "x"),
            quote!(
                fn f() {}
            ),
            false,
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown key `nme`"), "{out}");
        // and the function is still there
        assert!(
            out.ends_with(
                &quote!(
                    fn f() {}
                )
                .to_string()
            ),
            "{out}"
        );
        let out = run(
            Which::Trace,
            quote!(skip(b)),
            quote!(
                fn f(a: u8) {}
            ),
            false,
        );
        assert!(out.contains("has no argument `b`"), "{out}");
    }

    #[test]
    fn enabled_mode_instruments() {
        let out = run(
            Which::Tool,
            quote!(),
            quote!(
                fn f(a: u8) -> u8 {
                    a
                }
            ),
            true,
        );
        assert!(out.contains("__STASO_CALLSITE"), "{out}");
        assert!(out.contains(":: staso :: __private :: enter"), "{out}");
        assert!(!out.contains("staso_core"), "{out}");
        assert!(!out.contains("cfg"), "{out}");
    }

    #[test]
    fn result_detection_is_syntactic() {
        let ty = |s: &str| syn::parse_str::<Type>(s).expect("type");
        assert!(is_result(&ty("Result<u8, E>")));
        assert!(is_result(&ty("std::io::Result<u8>")));
        assert!(is_result(&ty("anyhow::Result<()>")));
        assert!(!is_result(&ty("Option<u8>")));
        assert!(!is_result(&ty("u8")));
    }

    #[test]
    fn boxed_future_output_is_found() {
        let ty = |s: &str| syn::parse_str::<Type>(s).expect("type");
        let out = boxed_future_output(&ty(
            "::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u8, E>> + Send + 'async_trait>>",
        ));
        assert_eq!(
            out.map(|t| t.to_token_stream().to_string()),
            Some("Result < u8 , E >".to_string())
        );
        let out = boxed_future_output(&ty("BoxFuture<'a, u8>"));
        assert_eq!(
            out.map(|t| t.to_token_stream().to_string()),
            Some("u8".into())
        );
    }
}
