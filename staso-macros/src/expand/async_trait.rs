//! An `#[async_trait]` method: async-trait hands the attribute a sync `fn` returning a
//! boxed future whose body ends in `Box::pin(async move { .. })`. That async block is
//! instrumented from the inside, as an `async fn` body is.

use super::async_fn::instrumented;
use super::capture::{bindings_captured, is_skipped, ArgCapture};
use crate::args::SpanArgs;
use crate::item::bindings;
use crate::return_type::{boxed_future_output, declared};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprAsync, ExprCall, FnArg, Ident, Pat, ReturnType, Signature, Stmt};

/// A body that ends in `Box::pin(async move { .. })`, as async-trait writes it.
pub(super) struct Parts<'a> {
    /// The statements before the `Box::pin(..)` call.
    before: &'a [Stmt],
    call: &'a ExprCall,
    block: &'a ExprAsync,
}

impl<'a> Parts<'a> {
    pub(super) fn find(stmts: &'a [Stmt]) -> Option<Parts<'a>> {
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
        Some(Parts {
            before,
            call,
            block,
        })
    }
}

pub(super) fn body(a: &SpanArgs, sig: &Signature, parts: Parts) -> TokenStream {
    let Parts {
        before,
        call,
        block,
    } = parts;
    let block_stmts = &block.block.stmts;
    let captures = captures(sig, a, block_stmts);
    // Unknown output type: async-trait's own inference line inside the block suffices.
    let output = declared(&sig.output)
        .and_then(boxed_future_output)
        .map(|t| ReturnType::Type(Default::default(), Box::new(t)));
    let body = instrumented(
        a,
        &captures,
        output.as_ref(),
        quote! { { #(#block_stmts)* } },
    );
    let (func, attrs, capture) = (&call.func, &block.attrs, &block.capture);
    quote! {
        #(#before)*
        #func(#(#attrs)* async #capture { #body })
    }
}

/// Captures of an async-trait method: plain arguments by their name; arguments
/// async-trait renamed `__argN` (patterns, `_`) through the `let <pattern> = __argN;` it
/// put at the start of the block, by borrowing `__argN` with that pattern.
fn captures(sig: &Signature, a: &SpanArgs, block_stmts: &[Stmt]) -> Vec<ArgCapture> {
    let mut out = Vec::new();
    if !a.capture_input {
        return out;
    }
    for arg in &sig.inputs {
        let FnArg::Typed(t) = arg else { continue };
        let outer = match &*t.pat {
            Pat::Ident(pi) if pi.ident.to_string().starts_with("__arg") => &pi.ident,
            pat => {
                out.extend(bindings_captured(pat, a, &t.attrs));
                continue;
            }
        };
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
        ids.retain(|i| !is_skipped(a, i));
        if ids.is_empty() {
            continue;
        }
        let mut borrowed = pat.clone();
        BorrowPattern { a }.visit_pat_mut(&mut borrowed);
        for id in ids {
            let value = quote! {{
                #[allow(unused_variables, clippy::toplevel_ref_arg)]
                let #borrowed = &#outer;
                #id
            }};
            out.push(ArgCapture::new(&id, value, &t.attrs));
        }
    }
    out
}

/// Whether a block ends with the bare identifier `id`.
fn block_yields(b: &syn::Block, id: &Ident) -> bool {
    matches!(b.stmts.last(), Some(Stmt::Expr(Expr::Path(p), None)) if p.path.is_ident(id))
}

/// Rewrites a pattern to bind by reference when matched against `&value`: `mut`, `ref`
/// and `ref mut` are dropped (default binding modes then bind references) and skipped
/// bindings become `_`.
struct BorrowPattern<'a> {
    a: &'a SpanArgs,
}

impl VisitMut for BorrowPattern<'_> {
    fn visit_pat_mut(&mut self, p: &mut Pat) {
        if let Pat::Ident(pi) = p {
            if pi.subpat.is_none() && is_skipped(self.a, &pi.ident) {
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
