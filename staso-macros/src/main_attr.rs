//! `#[staso::main]`: initialise from the attribute's options (plus the git facts baked in
//! at compile time) before `main`'s body, and shut down when `main` returns or unwinds.

use crate::args::{MainArgs, OptValue};
use crate::attribute;
use crate::expand::fake_return;
use crate::git;
use crate::item::{Body, FnItem};
use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Error, LitStr};

/// Entry point of `#[staso::main]`.
pub(crate) fn main_attr(args: TokenStream, item: TokenStream, enabled: bool) -> TokenStream {
    attribute::run(
        "#[staso::main]",
        MainArgs::parse(args),
        item,
        enabled,
        |_, f| check(f, enabled),
        expand,
    )
}

fn check(f: &FnItem, enabled: bool) -> syn::Result<()> {
    let sig = &f.sig;
    if sig.ident != "main" {
        return Err(Error::new_spanned(
            &sig.ident,
            format!(
                "#[staso::main] goes on `fn main`, not on `{}`; use #[staso::agent], #[staso::tool] or #[staso::trace] on other functions",
                sig.ident
            ),
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(Error::new_spanned(
            c,
            "#[staso::main] cannot go on a `const fn`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(Error::new_spanned(
            abi,
            "#[staso::main] cannot go on an `extern` function",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(Error::new_spanned(
            &sig.inputs,
            "`main` takes no arguments; read them with std::env::args()",
        ));
    }
    if f.body.is_none() {
        return Err(Error::new_spanned(
            sig,
            "#[staso::main] needs `main` with a body",
        ));
    }
    if !enabled && sig.asyncness.is_some() && !has_executor_attr(f) {
        // Compiled out there is no runtime to run the body on, and an async `main` left
        // as it is does not compile: say what to do instead.
        return Err(Error::new_spanned(
            sig.asyncness,
            "with staso's `enable` feature off, #[staso::main] cannot run an `async fn main` by itself: add #[tokio::main] below it (that works in both modes)",
        ));
    }
    Ok(())
}

/// An executor's own main attribute (`#[tokio::main]`, `#[async_std::main]`, ...) still
/// on the function: it will run the async body itself.
fn has_executor_attr(f: &FnItem) -> bool {
    f.attrs.iter().any(|a| {
        let segs = &a.path().segments;
        segs.len() >= 2
            && segs.last().is_some_and(|s| s.ident == "main")
            && segs.first().is_some_and(|s| s.ident != "staso")
    })
}

fn field(key: &syn::Ident, v: &OptValue) -> TokenStream {
    let value = match v {
        OptValue::Path(s) => quote!(::std::path::PathBuf::from(#s)),
        OptValue::Str(s) => quote!(::std::string::String::from(#s)),
        OptValue::Usize(n, span) => {
            let mut lit = Literal::usize_unsuffixed(*n);
            lit.set_span(*span);
            quote!(#lit)
        }
        OptValue::Secs(x, span) => {
            let mut lit = Literal::f64_unsuffixed(*x);
            lit.set_span(*span);
            quote!(::core::time::Duration::from_secs_f64(#lit))
        }
        OptValue::Fraction(x, span) => {
            let mut lit = Literal::f64_suffixed(*x);
            lit.set_span(*span);
            quote!(#lit)
        }
        OptValue::Bool(b) => quote!(#b),
        // Checked against the allowed strings already: parsing cannot fail.
        OptValue::Choice(s) => {
            quote!(::core::result::Result::unwrap_or_default(::core::str::FromStr::from_str(#s)))
        }
        OptValue::Pairs(pairs, span) => {
            let pairs = pairs.iter().map(|(k, v)| {
                quote_spanned!(*span=> (::std::string::String::from(#k), ::std::string::String::from(#v)))
            });
            quote!(::std::vec![#(#pairs),*])
        }
    };
    quote_spanned!(key.span()=> __staso_options.#key = ::core::option::Option::Some(#value);)
}

fn expand(a: &MainArgs, mut f: FnItem, body: Body) -> TokenStream {
    let fields = a.fields.iter().map(|(k, v)| field(k, v));
    // `capture_git = false`: nothing is read, nothing baked in.
    let (git, watch) = if a.bool("capture_git") == Some(false) {
        (quote!(::core::option::Option::None), Vec::new())
    } else {
        let g = git::facts();
        let c = &g.context;
        let (sha, branch, dirty, url) = (&c.commit_sha, &c.branch, c.is_dirty, &c.repo_url);
        let watch: Vec<LitStr> = g
            .watch
            .iter()
            .map(|p| LitStr::new(&p.to_string_lossy(), proc_macro2::Span::call_site()))
            .collect();
        (
            quote!(::staso::__private::baked_git(#sha, #branch, #dirty, #url)),
            watch,
        )
    };
    let guard = quote! {
        // Rebuild when HEAD moves, so the baked-in commit stays right.
        #(const _: &[u8] = ::core::include_bytes!(#watch);)*
        let __staso_main_guard = ::staso::__private::main_init({
            let mut __staso_options = ::staso::__private::Options::default();
            #(#fields)*
            __staso_options.git = #git;
            __staso_options
        });
    };
    let Body { inner_attrs, stmts } = body;
    let block = if f.sig.asyncness.is_some() && !has_executor_attr(&f) {
        // Alone on `async fn main`: run the body on the runtime's own executor.
        f.sig.asyncness = None;
        let fake = fake_return(&f.sig.output);
        quote! {
            #(#inner_attrs)*
            #guard
            ::staso::__private::block_on(async move { #fake { #(#stmts)* } })
        }
    } else {
        // Sync main, `#[tokio::main]` already expanded, or still to come below us.
        quote! {
            #(#inner_attrs)*
            #guard
            #(#stmts)*
        }
    };
    let (attrs, vis, sig) = (&f.attrs, &f.vis, &f.sig);
    quote! {
        #(#attrs)*
        #vis #sig {
            #block
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: TokenStream, item: TokenStream, enabled: bool) -> String {
        main_attr(args, item, enabled).to_string()
    }

    fn plain_main() -> TokenStream {
        quote!(
            fn main() {}
        )
    }

    fn async_main() -> TokenStream {
        quote!(
            async fn main() {}
        )
    }

    fn tokio_main() -> TokenStream {
        quote!(
            #[tokio::main]
            async fn main() {}
        )
    }

    #[test]
    fn options_map_to_fields() {
        let out = run(
            quote!(
                agent_name = "bot",
                flush_interval = 0.5,
                shutdown_timeout = 5,
                batch_size = 50,
                debug = true,
                ca_cert_path = "ca.pem",
                capture_git = false
            ),
            plain_main(),
            true,
        );
        assert!(out.contains("__staso_options . agent_name = :: core :: option :: Option :: Some (:: std :: string :: String :: from (\"bot\"))"), "{out}");
        assert!(out.contains("__staso_options . ca_cert_path = :: core :: option :: Option :: Some (:: std :: path :: PathBuf :: from (\"ca.pem\"))"), "{out}");
        assert!(out.contains("from_secs_f64 (0.5)"), "{out}");
        assert!(out.contains("from_secs_f64 (5"), "{out}");
        assert!(
            out.contains("__staso_options . batch_size = :: core :: option :: Option :: Some (50)"),
            "{out}"
        );
        assert!(
            out.contains("__staso_options . git = :: core :: option :: Option :: None"),
            "{out}"
        );
        assert!(!out.contains("include_bytes"), "{out}");
    }

    #[test]
    fn bad_options_are_errors() {
        for (args, msg) in [
            (quote!(agent_nme = "x"), "unknown option `agent_nme`"),
            (quote!(batch_size = 0), "between 1 and 500"),
            (quote!(batch_size = "10"), "takes an integer literal"),
            (quote!(flush_interval = 0), "positive number of seconds"),
            (quote!(debug = 1), "takes `true` or `false`"),
            (quote!(debug = true, debug = false), "duplicate key `debug`"),
            (quote!(ca_cert_path = 1), "takes a string literal"),
        ] {
            let out = run(args, plain_main(), false);
            assert!(out.contains(msg), "{msg}: {out}");
        }
        let out = run(
            quote!(),
            quote!(
                fn start() {}
            ),
            false,
        );
        assert!(out.contains("goes on `fn main`"), "{out}");
    }

    #[test]
    fn git_facts_are_baked_in_with_rebuild_triggers() {
        let out = run(quote!(), plain_main(), true);
        let facts = git::facts();
        if facts.context.commit_sha.is_empty() {
            assert!(
                out.contains("baked_git (\"\" , \"\" , false , \"\")"),
                "{out}"
            );
        } else {
            assert!(
                out.contains(&format!("baked_git (\"{}\"", facts.context.commit_sha)),
                "{out}"
            );
            assert!(out.contains("include_bytes"), "{out}");
            assert!(out.contains("HEAD\")"), "{out}");
        }
    }

    #[test]
    fn compiled_out_async_main_alone_says_to_add_an_executor() {
        let out = run(quote!(), async_main(), false);
        assert!(out.contains("add #[tokio::main]"), "{out}");
        let out = run(quote!(), tokio_main(), false);
        assert_eq!(out, tokio_main().to_string());
    }

    #[test]
    fn async_main_alone_is_run_by_block_on() {
        let out = run(quote!(), async_main(), true);
        assert!(out.contains("block_on"), "{out}");
        assert!(!out.contains("async fn main"), "{out}");
        let out = run(quote!(), tokio_main(), true);
        assert!(!out.contains("block_on"), "{out}");
        assert!(out.contains("async fn main"), "{out}");
    }
}
