//! Parsing the attributes' arguments. Every error points at the offending token and says
//! what is allowed; nothing here generates code.
//!
//! `span.rs` reads the keys of `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`;
//! `main.rs` the options of `#[staso::main]`. This file holds what both do the same way.

mod main;
mod span;

pub(crate) use main::{MainArgs, OptValue};
pub(crate) use span::{SpanArgs, SpanAttr};

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{parenthesized, token, Error, Expr, ExprLit, Ident, Lit, LitStr, Result, Token};

/// Reads `key = value, key(..), ..` to the end, calling `one` with each key and its name
/// (`r#` removed); `one` reads what follows the key. A key given twice is an error.
fn parse_keys(input: ParseStream, mut one: impl FnMut(&Ident, &str) -> Result<()>) -> Result<()> {
    let mut seen: Vec<String> = Vec::new();
    while !input.is_empty() {
        let key = input.call(Ident::parse_any)?;
        let k = key.unraw().to_string();
        if seen.contains(&k) {
            return Err(Error::new_spanned(
                &key,
                format!("duplicate key `{k}`: give it once"),
            ));
        }
        one(&key, &k)?;
        seen.push(k);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// `= <expression>` after `key`; `example` shows a right use when the `=` is missing.
fn value(input: ParseStream, key: &Ident, example: &str) -> Result<Expr> {
    if !input.peek(Token![=]) {
        return Err(Error::new_spanned(
            key,
            format!("`{key}` takes a value: {example}"),
        ));
    }
    input.parse::<Token![=]>()?;
    input.parse()
}

/// The string literal `v` must be.
fn str_value(v: &Expr, key: &Ident, example: &str) -> Result<LitStr> {
    match v {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        _ => Err(Error::new_spanned(
            v,
            format!("`{key}` takes a string literal, e.g. {example}"),
        )),
    }
}

/// `key(a, b, ..)`: the items of the parenthesized list, read by `item`; `how` is the
/// error when the parentheses are missing.
fn paren_list<T>(
    input: ParseStream,
    key: &Ident,
    how: &str,
    item: fn(ParseStream) -> Result<T>,
) -> Result<Punctuated<T, Token![,]>> {
    if !input.peek(token::Paren) {
        return Err(Error::new_spanned(key, how));
    }
    let content;
    parenthesized!(content in input);
    Punctuated::parse_terminated_with(&content, item)
}
