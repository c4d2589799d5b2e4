//! The function an attribute is put on, as parsed: its signature and its body, kept as
//! tokens so that a body that does not parse is handed back to rustc untouched (it then
//! reports the user's own error).

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::Visibility;
use syn::{braced, token, Attribute, Error, FnArg, Ident, Pat, Result, Signature, Stmt, Token};

/// A function as written.
pub(crate) struct FnItem {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// The body's braces and contents; `None` for a declaration without a body.
    pub body: Option<(token::Brace, TokenStream)>,
}

impl Parse for FnItem {
    fn parse(input: ParseStream) -> Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        // `default fn` in specialising impls is unstable; nothing else may precede `fn` here.
        let sig: Signature = input.parse()?;
        let body = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            None
        } else {
            let content;
            let brace = braced!(content in input);
            Some((brace, content.parse()?))
        };
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(FnItem {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

/// A parsed function body: inner attributes and statements.
pub(crate) struct Body {
    pub inner_attrs: Vec<Attribute>,
    pub stmts: Vec<Stmt>,
}

impl Parse for Body {
    fn parse(input: ParseStream) -> Result<Self> {
        Ok(Body {
            inner_attrs: input.call(Attribute::parse_inner)?,
            stmts: input.call(syn::Block::parse_within)?,
        })
    }
}

/// Parses the item an attribute is put on; `what` names the attribute for the message.
pub(crate) fn parse_fn(item: TokenStream, what: &str) -> Result<FnItem> {
    syn::parse2::<FnItem>(item.clone()).map_err(|_| {
        // The first few tokens: pointed at without underlining all of the item.
        let first: TokenStream = item.into_iter().take(3).collect();
        Error::new_spanned(
            first,
            format!("{what} goes on a function: `fn`, `async fn` or a method"),
        )
    })
}

/// The names a user can `skip`: `self` and every binding of the argument patterns.
pub(crate) fn arg_names(sig: &Signature) -> Vec<String> {
    let mut out = Vec::new();
    for a in &sig.inputs {
        match a {
            FnArg::Receiver(_) => out.push("self".to_string()),
            FnArg::Typed(t) => {
                let mut ids = Vec::new();
                bindings(&t.pat, &mut ids);
                out.extend(ids.iter().map(|i| i.unraw().to_string()));
            }
        }
    }
    out
}

/// The identifiers a pattern binds, in order (`_` binds nothing).
pub(crate) fn bindings(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                bindings(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bindings(&f.pat, out)),
        Pat::Slice(s) => s.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Reference(r) => bindings(&r.pat, out),
        Pat::Paren(p) => bindings(&p.pat, out),
        Pat::Type(t) => bindings(&t.pat, out),
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                bindings(first, out)
            }
        }
        _ => {}
    }
}
