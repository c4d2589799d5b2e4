//! Code generation for `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`.
//!
//! Four shapes, chosen from the signature and body, one file each:
//! - `sync.rs`, a sync `fn`: the span entered first (so a panic still ends it), the body
//!   run in an immediately called `move` closure (as tracing-attributes does for
//!   `ret`/`err`) so `return` and `?` keep their meaning and the value can be seen;
//! - `async_fn.rs`, an `async fn`: the span is started at the first poll, arguments
//!   captured, and the body becomes an inner `async move` block instrumented with the span;
//! - `impl_future.rs`, `fn .. -> impl Future`: the returned future is wrapped the same way;
//! - `async_trait.rs`, an `#[async_trait]` method (`Box::pin(async move { .. })` as last
//!   statement): the boxed async block is instrumented from the inside.
//!
//! What they share: the registration statics and the helpers below; the capture code
//! (`capture.rs`); the guard check of `#[staso::tool(guard)]` (`guard.rs`).
//!
//! Generated code names only `::staso::__private::*`, `::core` and `::std`.

mod async_fn;
mod async_trait;
mod capture;
mod guard;
mod impl_future;
mod sync;

use crate::args::{SpanArgs, SpanAttr};
use crate::attribute;
use crate::check::check;
use crate::item::{Body, FnItem};
use crate::return_type::impl_future_output;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::visit_mut::VisitMut;
use syn::{ReturnType, Type};

/// Entry point of the three span attributes. Arguments and item are checked in both
/// modes; only when `enabled` is the function rewritten.
pub(crate) fn span_attr(
    attr: SpanAttr,
    args: TokenStream,
    item: TokenStream,
    enabled: bool,
) -> TokenStream {
    attribute::run(
        attr.attr(),
        SpanArgs::parse(attr, args),
        item,
        enabled,
        |a, f| check(attr, a, f),
        |a, f, body| instrument(a, &f, body),
    )
}

fn instrument(a: &SpanArgs, f: &FnItem, body: Body) -> TokenStream {
    let sig = &f.sig;
    let statics = registration(a, &sig.ident);
    let Body { inner_attrs, stmts } = body;
    let new_body = if sig.asyncness.is_some() {
        async_fn::body(a, sig, &stmts)
    } else if let Some((output, unpin)) = impl_future_output(&sig.output) {
        impl_future::body(a, sig, output.as_ref(), unpin, &stmts)
    } else if let Some(parts) = async_trait::Parts::find(&stmts) {
        async_trait::body(a, sig, parts)
    } else {
        let track_caller = f.attrs.iter().any(|at| at.path().is_ident("track_caller"));
        sync::body(a, sig, &stmts, track_caller)
    };
    let (attrs, vis) = (&f.attrs, &f.vis);
    quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #statics
            #new_body
        }
    }
}

/// The function's entry in the registry (`inventory`) and the static call site every span
/// of it points to.
fn registration(a: &SpanArgs, ident: &syn::Ident) -> TokenStream {
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
    quote! {
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
            decided: ::staso::__private::SiteDecision::NEW,
        };
    }
}

/// An unreachable `return` of the declared type, so that `?` and `return` inside the
/// closure or async block the body is moved into infer that type (tracing-attributes'
/// trick). `impl Trait` cannot be written there and is erased to `_`. Also used by
/// `#[staso::main]` for the async block it runs.
pub(crate) fn fake_return(output: &ReturnType) -> TokenStream {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(attr: SpanAttr, args: TokenStream, item: TokenStream, enabled: bool) -> String {
        span_attr(attr, args, item, enabled).to_string()
    }

    #[test]
    fn disabled_mode_returns_the_item_untouched() {
        let items = [
            quote! { pub fn add(a: u32, b: u32) -> u32 { a + b } },
            quote! { #[no_mangle] pub fn s(v: &[u64]) -> u64 { v.iter().sum() } },
            quote! { async fn fetch(&self, (a, b): (u8, u8), _: u8) -> Result<u8, String> { Ok(a + b) } },
            quote! { fn gen<T: Clone>(x: impl Into<T>) -> impl std::future::Future<Output = T> { async move { x.into() } } },
        ];
        for attr in [SpanAttr::Agent, SpanAttr::Tool, SpanAttr::Trace] {
            for item in &items {
                let args = quote! { name = "x", tags = ["a"], metadata(team = "b"), capture_input = false };
                assert_eq!(
                    run(attr, args, item.clone(), false),
                    item.to_string(),
                    "{attr:?}"
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
        let item = quote!(
            fn f() {}
        );
        let out = run(SpanAttr::Tool, quote!(nme = "x"), item.clone(), false);
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown key `nme`"), "{out}");
        // and the function is still there
        assert!(out.ends_with(&item.to_string()), "{out}");
        let out = run(
            SpanAttr::Trace,
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
            SpanAttr::Tool,
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
}
