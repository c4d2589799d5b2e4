//! The options of `#[staso::main]`: the names, types and ranges of `staso_types::OPTIONS`.

use super::{parse_keys, value};
use proc_macro2::{Span, TokenStream};
use staso_types::{OptionSpec, OptionType, OPTIONS};
use syn::parse::{ParseStream, Parser};
use syn::{Error, Expr, ExprLit, Ident, Lit, LitStr, Result};

/// A checked value of one `#[staso::main]` option.
pub(crate) enum OptValue {
    Str(LitStr),
    Path(LitStr),
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
        let mut fields = Vec::new();
        parse_keys(input, |key, k| {
            let Some(spec) = OptionSpec::get(k) else {
                let keys: Vec<&str> = OPTIONS.iter().map(|o| o.name).collect();
                return Err(Error::new_spanned(
                    key,
                    format!(
                        "unknown option `{k}` for #[staso::main]; allowed options: {}",
                        keys.join(", ")
                    ),
                ));
            };
            let example = match spec.ty {
                OptionType::Count { .. } => format!("{k} = 100"),
                OptionType::Seconds => format!("{k} = 0.5 (seconds)"),
                OptionType::Fraction => format!("{k} = 0.25"),
                OptionType::Flag => format!("{k} = false"),
                _ => format!("{k} = \"..\""),
            };
            let v = value(input, key, &example)?;
            fields.push((key.clone(), opt_value(k, spec.ty, &v, &example)?));
            Ok(())
        })?;
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
        (OptionType::Path, Some(Lit::Str(s))) => OptValue::Path(s.clone()),
        (OptionType::Choice(allowed), Some(Lit::Str(s))) => {
            if !allowed.contains(&s.value().as_str()) {
                return Err(Error::new_spanned(
                    s,
                    format!("`{key}` takes one of {}", allowed.join(", ")),
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
    // `init` refuses a zero flush interval too; the other durations may be zero.
    if !x.is_finite() || (key == "flush_interval" && x <= 0.0) {
        return Err(Error::new(
            span,
            format!("`{key}` must be a positive number of seconds"),
        ));
    }
    Ok(OptValue::Secs(x, span))
}
