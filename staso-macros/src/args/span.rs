//! The keys of `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`.

use super::{paren_list, parse_keys, str_value, value};
use proc_macro2::TokenStream;
use staso_types::Kind;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Error, Expr, ExprLit, Ident, Lit, LitStr, Result, Token};

/// One of the three attributes that make every call of a function a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanAttr {
    Agent,
    Tool,
    Trace,
}

/// Every key of the span attributes, in the order error messages list them, with the one
/// attribute it is limited to (`None`: all three).
const KEYS: &[(&str, Option<SpanAttr>)] = &[
    ("name", None),
    ("kind", Some(SpanAttr::Trace)),
    ("tags", None),
    ("metadata", None),
    ("capture_input", None),
    ("capture_output", None),
    ("skip", None),
    ("guard", Some(SpanAttr::Tool)),
];

impl SpanAttr {
    /// The attribute as the user writes it, for messages.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            SpanAttr::Agent => "#[staso::agent]",
            SpanAttr::Tool => "#[staso::tool]",
            SpanAttr::Trace => "#[staso::trace]",
        }
    }

    /// The keys this attribute takes.
    fn keys(self) -> Vec<&'static str> {
        KEYS.iter()
            .filter(|(_, only)| only.is_none() || *only == Some(self))
            .map(|(k, _)| *k)
            .collect()
    }

    /// The kind the attribute uses when no `kind` is given.
    fn default_kind(self) -> Kind {
        match self {
            SpanAttr::Agent => Kind::Agent,
            SpanAttr::Tool => Kind::Tool,
            SpanAttr::Trace => Kind::Chain,
        }
    }
}

/// The arguments of `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`.
pub(crate) struct SpanArgs {
    pub name: Option<LitStr>,
    /// The span kind (`::staso::__private::Kind::<its Debug name>` in the expansion).
    pub kind: Kind,
    pub tags: Vec<LitStr>,
    pub metadata: Vec<(LitStr, Expr)>,
    pub capture_input: bool,
    pub capture_output: bool,
    pub skip: Vec<Ident>,
    /// `guard` (tools only): check the call with the guard before the body runs.
    pub guard: Option<Ident>,
}

impl SpanArgs {
    pub(crate) fn parse(attr: SpanAttr, args: TokenStream) -> Result<SpanArgs> {
        let parser = move |input: ParseStream| SpanArgs::parse_stream(attr, input);
        parser.parse2(args)
    }

    fn parse_stream(attr: SpanAttr, input: ParseStream) -> Result<SpanArgs> {
        let mut out = SpanArgs {
            name: None,
            kind: attr.default_kind(),
            tags: Vec::new(),
            metadata: Vec::new(),
            capture_input: true,
            capture_output: true,
            skip: Vec::new(),
            guard: None,
        };
        parse_keys(input, |key, k| out.parse_key(attr, input, key, k))?;
        Ok(out)
    }

    /// Reads what follows `key` into `self`.
    fn parse_key(
        &mut self,
        attr: SpanAttr,
        input: ParseStream,
        key: &Ident,
        k: &str,
    ) -> Result<()> {
        let keys = attr.keys();
        if !keys.contains(&k) {
            let hint = if k == "kind" {
                format!(
                    "; `kind` is only for #[staso::trace], {} always makes a `{}` span",
                    attr.attr(),
                    attr.default_kind()
                )
            } else if k == "guard" {
                "; `guard` is only for #[staso::tool]: it checks a tool call before it runs"
                    .to_string()
            } else {
                String::new()
            };
            return Err(Error::new_spanned(
                key,
                format!(
                    "unknown key `{k}` for {}; allowed keys: {}{hint}",
                    attr.attr(),
                    keys.join(", ")
                ),
            ));
        }
        match k {
            "name" => {
                let example = "name = \"lookup\"";
                let s = str_value(&value(input, key, example)?, key, example)?;
                if s.value().trim().is_empty() {
                    return Err(Error::new_spanned(s, "`name` must not be empty"));
                }
                self.name = Some(s);
            }
            "kind" => {
                let example = "kind = \"retriever\"";
                let s = str_value(&value(input, key, example)?, key, example)?;
                self.kind = s.value().parse::<Kind>().map_err(|_| {
                    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    Error::new_spanned(
                        &s,
                        format!(
                            "unknown kind {:?}; expected one of: {}",
                            s.value(),
                            kinds.join(", ")
                        ),
                    )
                })?;
            }
            "tags" => {
                let example = "tags = [\"v2\", \"beta\"]";
                let v = value(input, key, example)?;
                let Expr::Array(arr) = &v else {
                    return Err(Error::new_spanned(
                        &v,
                        format!("`tags` takes a list of string literals, e.g. {example}"),
                    ));
                };
                for e in &arr.elems {
                    self.tags.push(str_value(e, key, example)?);
                }
            }
            "capture_input" => self.capture_input = flag(input, key)?,
            "capture_output" => self.capture_output = flag(input, key)?,
            "guard" => {
                if !input.is_empty() && !input.peek(Token![,]) {
                    return Err(Error::new_spanned(
                        key,
                        "`guard` takes no value: write #[staso::tool(guard)] (fail-closed comes from STASO_GUARD_FAIL_CLOSED)",
                    ));
                }
                self.guard = Some(key.clone());
            }
            "skip" => {
                let how = "`skip` takes a list of argument names, e.g. skip(password, client)";
                for n in paren_list(input, key, how, Ident::parse_any)? {
                    if self.skip.iter().any(|s| s.unraw() == n.unraw()) {
                        return Err(Error::new_spanned(&n, format!("`{n}` is skipped twice")));
                    }
                    self.skip.push(n);
                }
            }
            "metadata" => {
                let how = "`metadata` takes a list of key = value pairs, e.g. metadata(team = \"billing\", tier = 2)";
                for p in paren_list(input, key, how, MetaPair::parse)? {
                    if self
                        .metadata
                        .iter()
                        .any(|(k, _)| k.value() == p.key.value())
                    {
                        return Err(Error::new_spanned(
                            &p.key,
                            format!("duplicate metadata key {:?}", p.key.value()),
                        ));
                    }
                    self.metadata.push((p.key, p.value));
                }
            }
            _ => unreachable!("every key of KEYS is handled"),
        }
        Ok(())
    }
}

/// `= true` or `= false` after `key`.
fn flag(input: ParseStream, key: &Ident) -> Result<bool> {
    let example = format!("{key} = false");
    match value(input, key, &example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.value),
        v => Err(Error::new_spanned(
            v,
            format!("`{key}` takes `true` or `false`, e.g. {example}"),
        )),
    }
}

/// `key = value` inside `metadata(..)`; the key is an identifier or a string literal.
struct MetaPair {
    key: LitStr,
    value: Expr,
}

impl Parse for MetaPair {
    fn parse(input: ParseStream) -> Result<Self> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else {
            let id = input.call(Ident::parse_any)?;
            LitStr::new(&id.unraw().to_string(), id.span())
        };
        if !input.peek(Token![=]) {
            return Err(Error::new(
                key.span(),
                format!(
                    "metadata `{}` takes a value, e.g. metadata(team = \"billing\")",
                    key.value()
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(MetaPair {
            key,
            value: input.parse()?,
        })
    }
}
