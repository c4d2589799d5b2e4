//! What every staso attribute does around its code generation: parse its arguments and
//! the function (reporting both errors at once), check them, and leave the function as
//! it was written unless the `enable` feature is on and its body parses.

use crate::item::{self, Body, FnItem};
use proc_macro2::TokenStream;

/// Runs one attribute: `what` names it in messages; `args` are its parsed arguments;
/// `check` runs in both modes; `expand` only when `enabled`, on a body that parses.
pub(crate) fn run<A>(
    what: &str,
    args: syn::Result<A>,
    item: TokenStream,
    enabled: bool,
    check: impl FnOnce(&A, &FnItem) -> syn::Result<()>,
    expand: impl FnOnce(&A, FnItem, Body) -> TokenStream,
) -> TokenStream {
    let (args, f) = match (args, item::parse_fn(item.clone(), what)) {
        (Ok(a), Ok(f)) => (a, f),
        (Err(mut e), Err(e2)) => {
            e.combine(e2);
            return with_error(e, item);
        }
        (Err(e), _) | (_, Err(e)) => return with_error(e, item),
    };
    if let Err(e) = check(&args, &f) {
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
    expand(&args, f, body)
}

/// The compile error followed by the item as it was, so the rest of the crate (and the
/// IDE) still sees the function.
fn with_error(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.to_compile_error();
    out.extend(item);
    out
}
