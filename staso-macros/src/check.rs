//! Whether a span attribute may go on the function, with the keys it was given. Checked
//! in both modes, so a mistake is an error whether or not the `enable` feature is on.

use crate::args::{SpanArgs, SpanAttr};
use crate::item::{arg_names, FnItem};
use crate::return_type::{boxed_future_output, declared, impl_future_output, is_result};
use syn::ext::IdentExt;
use syn::{Error, Result};

/// Every check of `#[staso::agent/tool/trace]` on `f`; the function's own misuses are
/// reported together, `guard`'s after them.
pub(crate) fn check(attr: SpanAttr, args: &SpanArgs, f: &FnItem) -> Result<()> {
    check_fn(attr, args, f).and_then(|()| check_guard(args, f))
}

/// The function can carry a span, and `skip(..)` names arguments it has.
fn check_fn(attr: SpanAttr, args: &SpanArgs, f: &FnItem) -> Result<()> {
    let mut errors: Option<Error> = None;
    let mut push = |e: Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    let attr = attr.attr();
    if let Some(c) = &f.sig.constness {
        push(Error::new_spanned(
            c,
            format!("{attr} cannot go on a `const fn`: a span is opened at run time"),
        ));
    }
    if let Some(abi) = &f.sig.abi {
        push(Error::new_spanned(
            abi,
            format!(
                "{attr} cannot go on an `extern` function; instrument a Rust function it calls instead"
            ),
        ));
    }
    if f.body.is_none() {
        push(Error::new_spanned(
            &f.sig,
            format!("{attr} needs a function with a body; put it on the implementations instead"),
        ));
    }
    if f.sig.variadic.is_some() {
        push(Error::new_spanned(
            &f.sig.variadic,
            format!("{attr} cannot go on a variadic function"),
        ));
    }
    let names = arg_names(&f.sig);
    for s in &args.skip {
        let s_name = s.unraw().to_string();
        if !names.contains(&s_name) {
            let known = if names.is_empty() {
                "it has no arguments".to_string()
            } else {
                format!("its arguments are: {}", names.join(", "))
            };
            push(Error::new_spanned(
                s,
                format!(
                    "`skip({s_name})`: `{}` has no argument `{s_name}`; {known}",
                    f.sig.ident
                ),
            ));
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `guard` needs a body that has not started when the check runs, and a `Result` to
/// return a blocked call in.
fn check_guard(a: &SpanArgs, f: &FnItem) -> Result<()> {
    if a.guard.is_none() {
        return Ok(());
    }
    const HOW: &str = "return e.g. `Result<T, Box<dyn std::error::Error + Send + Sync>>`, \
        `anyhow::Result<T>`, or a `Result` whose error type implements `From<staso::GuardBlocked>`";
    let declared = declared(&f.sig.output);
    if f.sig.asyncness.is_none() && impl_future_output(&f.sig.output).is_some() {
        return Err(Error::new_spanned(
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
        Some(t) => Err(Error::new_spanned(
            t,
            format!(
                "`#[staso::tool(guard)]` needs a function that returns a `Result`: a blocked call \
                 returns `Err(staso::GuardBlocked.into())` instead of running the body; {HOW}"
            ),
        )),
        None => Err(Error::new_spanned(
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
