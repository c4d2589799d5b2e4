//! Parsing: the attributes' arguments and the function they are put on. Every error points
//! at the offending token and says what is allowed; nothing here generates code.

use proc_macro2::{Span, TokenStream};
use staso_types::{Kind, OptionSpec, OptionType, OPTIONS};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{
    braced, parenthesized, token, Attribute, Error, Expr, ExprLit, FnArg, Ident, Lit, LitBool,
    LitStr, Pat, Result, Signature, Stmt, Token, Visibility,
};

/// Which of the three function attributes is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Agent,
    Tool,
    Trace,
}

impl Which {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Which::Agent => "#[staso::agent]",
            Which::Tool => "#[staso::tool]",
            Which::Trace => "#[staso::trace]",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        const COMMON: &[&str] = &[
            "name",
            "tags",
            "metadata",
            "capture_input",
            "capture_output",
            "skip",
        ];
        const TRACE: &[&str] = &[
            "name",
            "kind",
            "tags",
            "metadata",
            "capture_input",
            "capture_output",
            "skip",
        ];
        const TOOL: &[&str] = &[
            "name",
            "tags",
            "metadata",
            "capture_input",
            "capture_output",
            "skip",
            "guard",
        ];
        match self {
            Which::Trace => TRACE,
            Which::Tool => TOOL,
            Which::Agent => COMMON,
        }
    }

    /// The kind the attribute uses when no `kind` is given.
    fn default_kind(self) -> Kind {
        match self {
            Which::Agent => Kind::Agent,
            Which::Tool => Kind::Tool,
            Which::Trace => Kind::Chain,
        }
    }
}

/// The arguments of `#[staso::agent]`, `#[staso::tool]` and `#[staso::trace]`.
pub(crate) struct FnArgs {
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

fn list(keys: &[&str]) -> String {
    keys.join(", ")
}

/// Remembers the keys seen so far and refuses a second one.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn check(&mut self, key: &Ident) -> Result<()> {
        let k = key.unraw().to_string();
        if self.0.contains(&k) {
            return Err(Error::new_spanned(
                key,
                format!("duplicate key `{k}`: give it once"),
            ));
        }
        self.0.push(k);
        Ok(())
    }
}

fn expect_eq(input: ParseStream, key: &Ident, example: &str) -> Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>().map(|_| ())
    } else {
        Err(Error::new_spanned(
            key,
            format!("`{key}` takes a value: {example}"),
        ))
    }
}

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

fn bool_value(v: &Expr, key: &Ident) -> Result<LitBool> {
    match v {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.clone()),
        _ => Err(Error::new_spanned(
            v,
            format!("`{key}` takes `true` or `false`, e.g. {key} = false"),
        )),
    }
}

impl FnArgs {
    pub(crate) fn parse(which: Which, args: TokenStream) -> Result<FnArgs> {
        let parser = move |input: ParseStream| FnArgs::parse_stream(which, input);
        parser.parse2(args)
    }

    fn parse_stream(which: Which, input: ParseStream) -> Result<FnArgs> {
        let mut out = FnArgs {
            name: None,
            kind: which.default_kind(),
            tags: Vec::new(),
            metadata: Vec::new(),
            capture_input: true,
            capture_output: true,
            skip: Vec::new(),
            guard: None,
        };
        let mut seen = Seen::default();
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            let k = key.unraw().to_string();
            if !which.keys().contains(&k.as_str()) {
                let hint = if k == "kind" {
                    format!(
                        "; `kind` is only for #[staso::trace], {} always makes a `{}` span",
                        which.attr(),
                        which.default_kind()
                    )
                } else if k == "guard" {
                    "; `guard` is only for #[staso::tool]: it checks a tool call before it runs"
                        .to_string()
                } else {
                    String::new()
                };
                return Err(Error::new_spanned(
                    &key,
                    format!(
                        "unknown key `{k}` for {}; allowed keys: {}{hint}",
                        which.attr(),
                        list(which.keys())
                    ),
                ));
            }
            seen.check(&key)?;
            match k.as_str() {
                "name" => {
                    expect_eq(input, &key, "name = \"lookup\"")?;
                    let v: Expr = input.parse()?;
                    let s = str_value(&v, &key, "name = \"lookup\"")?;
                    if s.value().trim().is_empty() {
                        return Err(Error::new_spanned(s, "`name` must not be empty"));
                    }
                    out.name = Some(s);
                }
                "kind" => {
                    let example = "kind = \"retriever\"";
                    expect_eq(input, &key, example)?;
                    let v: Expr = input.parse()?;
                    let s = str_value(&v, &key, example)?;
                    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    out.kind = s.value().parse::<Kind>().map_err(|_| {
                        Error::new_spanned(
                            &s,
                            format!(
                                "unknown kind {:?}; expected one of: {}",
                                s.value(),
                                list(&kinds)
                            ),
                        )
                    })?;
                }
                "tags" => {
                    let example = "tags = [\"v2\", \"beta\"]";
                    expect_eq(input, &key, example)?;
                    let v: Expr = input.parse()?;
                    let Expr::Array(arr) = &v else {
                        return Err(Error::new_spanned(
                            &v,
                            format!("`tags` takes a list of string literals, e.g. {example}"),
                        ));
                    };
                    for e in &arr.elems {
                        out.tags.push(str_value(e, &key, example)?);
                    }
                }
                "capture_input" => {
                    expect_eq(input, &key, "capture_input = false")?;
                    out.capture_input = bool_value(&input.parse()?, &key)?.value;
                }
                "capture_output" => {
                    expect_eq(input, &key, "capture_output = false")?;
                    out.capture_output = bool_value(&input.parse()?, &key)?.value;
                }
                "guard" => {
                    if !input.is_empty() && !input.peek(Token![,]) {
                        return Err(Error::new_spanned(
                            &key,
                            "`guard` takes no value: write #[staso::tool(guard)] (fail-closed comes from STASO_GUARD_FAIL_CLOSED)",
                        ));
                    }
                    out.guard = Some(key.clone());
                }
                "skip" => {
                    if !input.peek(token::Paren) {
                        return Err(Error::new_spanned(
                            &key,
                            "`skip` takes a list of argument names, e.g. skip(password, client)",
                        ));
                    }
                    let content;
                    parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                        &content,
                        Ident::parse_any,
                    )?;
                    for n in names {
                        if out.skip.iter().any(|s| s.unraw() == n.unraw()) {
                            return Err(Error::new_spanned(&n, format!("`{n}` is skipped twice")));
                        }
                        out.skip.push(n);
                    }
                }
                "metadata" => {
                    if !input.peek(token::Paren) {
                        return Err(Error::new_spanned(
                            &key,
                            "`metadata` takes a list of key = value pairs, e.g. metadata(team = \"billing\", tier = 2)",
                        ));
                    }
                    let content;
                    parenthesized!(content in input);
                    let pairs = Punctuated::<MetaPair, Token![,]>::parse_terminated(&content)?;
                    for p in pairs {
                        if out.metadata.iter().any(|(k, _)| k.value() == p.key.value()) {
                            return Err(Error::new_spanned(
                                &p.key,
                                format!("duplicate metadata key {:?}", p.key.value()),
                            ));
                        }
                        out.metadata.push((p.key, p.value));
                    }
                }
                _ => unreachable!("every allowed key is handled"),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(out)
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

/// A checked value of one `#[staso::main]` option.
pub(crate) enum OptValue {
    Str(LitStr),
    Usize(usize, Span),
    Secs(f64, Span),
    Fraction(f64, Span),
    Bool(bool),
    /// One of an option's allowed strings, parsed into its field's type with `FromStr`.
    Choice(LitStr),
    /// `key=value` pairs, already checked.
    Pairs(Vec<(String, String)>, Span),
}

/// The arguments of `#[staso::main]`: `Options` fields, in the order given.
pub(crate) struct MainArgs {
    pub fields: Vec<(Ident, OptValue)>,
}

impl MainArgs {
    pub(crate) fn parse(args: TokenStream) -> Result<MainArgs> {
        Parser::parse2(MainArgs::parse_stream, args)
    }

    /// The `bool` given for `key`, if any.
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.fields.iter().find_map(|(k, v)| match v {
            OptValue::Bool(b) if k == key => Some(*b),
            _ => None,
        })
    }

    fn parse_stream(input: ParseStream) -> Result<MainArgs> {
        let keys: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
        let mut seen = Seen::default();
        let mut fields = Vec::new();
        while !input.is_empty() {
            let key = input.call(Ident::parse_any)?;
            let k = key.unraw().to_string();
            let Some(spec) = OptionSpec::get(&k) else {
                return Err(Error::new_spanned(
                    &key,
                    format!(
                        "unknown option `{k}` for #[staso::main]; allowed options: {}",
                        list(&keys)
                    ),
                ));
            };
            seen.check(&key)?;
            let example = match spec.ty {
                OptionType::Count { .. } => format!("{k} = 100"),
                OptionType::Seconds => format!("{k} = 0.5 (seconds)"),
                OptionType::Fraction => format!("{k} = 0.25"),
                OptionType::Flag => format!("{k} = false"),
                _ => format!("{k} = \"..\""),
            };
            expect_eq(input, &key, &example)?;
            let v: Expr = input.parse()?;
            let value = opt_value(&k, spec.ty, &v, &example)?;
            fields.push((key, value));
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(MainArgs { fields })
    }
}

fn opt_value(key: &str, ty: OptionType, v: &Expr, example: &str) -> Result<OptValue> {
    let lit = match v {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    };
    let wrong = |what: &str| Error::new_spanned(v, format!("`{key}` takes {what}, e.g. {example}"));
    Ok(match (ty, lit) {
        (OptionType::Flag, Some(Lit::Bool(b))) => OptValue::Bool(b.value),
        (OptionType::Flag, _) => return Err(wrong("`true` or `false`")),
        (OptionType::Count { min, max }, Some(Lit::Int(i))) => {
            let n: usize = i.base10_parse()?;
            if !(min..=max).contains(&n) {
                let range = if max == usize::MAX {
                    format!("at least {min}")
                } else {
                    format!("between {min} and {max}")
                };
                return Err(Error::new_spanned(
                    i,
                    format!("`{key}` must be {range}, not {n}"),
                ));
            }
            OptValue::Usize(n, i.span())
        }
        (OptionType::Count { .. }, _) => return Err(wrong("an integer literal")),
        (OptionType::Seconds, Some(Lit::Int(i))) => {
            let n: u64 = i.base10_parse()?;
            secs(key, n as f64, i.span())?
        }
        (OptionType::Seconds, Some(Lit::Float(f))) => {
            let x: f64 = f.base10_parse()?;
            secs(key, x, f.span())?
        }
        (OptionType::Seconds, _) => return Err(wrong("a number of seconds")),
        (OptionType::Fraction, Some(Lit::Float(f))) => fraction(key, f.base10_parse()?, f.span())?,
        (OptionType::Fraction, Some(Lit::Int(i))) => fraction(key, i.base10_parse()?, i.span())?,
        (OptionType::Fraction, _) => return Err(wrong("a number between 0.0 and 1.0")),
        (OptionType::Choice(allowed), Some(Lit::Str(s))) => {
            if !allowed.contains(&s.value().as_str()) {
                return Err(Error::new_spanned(
                    s,
                    format!("`{key}` takes one of {}", list(allowed)),
                ));
            }
            OptValue::Choice(s.clone())
        }
        (OptionType::Pairs, Some(Lit::Str(s))) => match staso_types::parse_otlp_headers(&s.value())
        {
            Ok(pairs) => OptValue::Pairs(pairs, s.span()),
            Err(why) => return Err(Error::new_spanned(s, format!("`{key}`: {why}"))),
        },
        (_, Some(Lit::Str(s))) => OptValue::Str(s.clone()),
        (_, _) => return Err(wrong("a string literal")),
    })
}

fn fraction(key: &str, x: f64, span: Span) -> Result<OptValue> {
    if !(0.0..=1.0).contains(&x) {
        return Err(Error::new(
            span,
            format!("`{key}` must be between 0.0 and 1.0, not {x}"),
        ));
    }
    Ok(OptValue::Fraction(x, span))
}

fn secs(key: &str, x: f64, span: Span) -> Result<OptValue> {
    if !x.is_finite() || (key == "flush_interval" && x <= 0.0) {
        return Err(Error::new(
            span,
            format!("`{key}` must be a positive number of seconds"),
        ));
    }
    Ok(OptValue::Secs(x, span))
}

/// A function as written, with its body kept as tokens so that a body that does not parse
/// is handed back to rustc untouched (it then reports the user's own error).
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
        Error::new_spanned(
            first_tokens(item),
            format!("{what} goes on a function: `fn`, `async fn` or a method"),
        )
    })
}

/// The first few tokens of an item, to point an error at without underlining all of it.
fn first_tokens(item: TokenStream) -> TokenStream {
    item.into_iter().take(3).collect()
}

/// Checks that `#[staso::agent/tool/trace]` may go on `f` and that `skip(..)` names
/// arguments it has.
pub(crate) fn check_fn(which: Which, args: &FnArgs, f: &FnItem) -> Result<()> {
    let mut errors: Option<Error> = None;
    let mut push = |e: Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    if let Some(c) = &f.sig.constness {
        push(Error::new_spanned(
            c,
            format!(
                "{} cannot go on a `const fn`: a span is opened at run time",
                which.attr()
            ),
        ));
    }
    if let Some(abi) = &f.sig.abi {
        push(Error::new_spanned(
            abi,
            format!(
                "{} cannot go on an `extern` function; instrument a Rust function it calls instead",
                which.attr()
            ),
        ));
    }
    if f.body.is_none() {
        push(Error::new_spanned(
            &f.sig,
            format!(
                "{} needs a function with a body; put it on the implementations instead",
                which.attr()
            ),
        ));
    }
    if f.sig.variadic.is_some() {
        push(Error::new_spanned(
            &f.sig.variadic,
            format!("{} cannot go on a variadic function", which.attr()),
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
