//! What a return type says, read from its syntax (a proc macro sees no types): a
//! `Result`, an `impl Future`, or the boxed future async-trait writes.

use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

/// The type a function declares it returns; `None` when it leaves `-> ()` out.
pub(crate) fn declared(output: &ReturnType) -> Option<&Type> {
    match output {
        ReturnType::Type(_, t) => Some(t),
        ReturnType::Default => None,
    }
}

/// Whether a type is syntactically a `Result` (`Result<..>`, `io::Result<T>`, ...).
pub(crate) fn is_result(t: &Type) -> bool {
    match peel(t) {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// `Some((Output type, has an Unpin bound))` when the return type is `impl Future<..>`.
pub(crate) fn impl_future_output(output: &ReturnType) -> Option<(Option<Type>, bool)> {
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

/// The `Output` of a boxed future type: `Pin<Box<dyn Future<Output = T> + ..>>` (what
/// async-trait writes), or the last type argument of a `BoxFuture<'a, T>`-like alias.
pub(crate) fn boxed_future_output(t: &Type) -> Option<Type> {
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

/// The type inside invisible groups and parentheses.
fn peel(t: &Type) -> &Type {
    match t {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn ty(s: &str) -> Type {
        syn::parse_str::<Type>(s).expect("type")
    }

    #[test]
    fn result_detection_is_syntactic() {
        assert!(is_result(&ty("Result<u8, E>")));
        assert!(is_result(&ty("std::io::Result<u8>")));
        assert!(is_result(&ty("anyhow::Result<()>")));
        assert!(!is_result(&ty("Option<u8>")));
        assert!(!is_result(&ty("u8")));
    }

    #[test]
    fn boxed_future_output_is_found() {
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
