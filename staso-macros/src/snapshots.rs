//! Expansion snapshots: each `tests/expand/<name>.rs` is expanded item by item (with the
//! `enable` feature's code paths) and compared with `tests/expand/<name>.expanded.rs`.
//! `STASO_BLESS=1 cargo test -p staso-macros` rewrites the snapshots; review the diff.

use crate::args::SpanAttr;
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::path::Path;

/// Expands the staso attribute of every function in `src`, as rustc would.
fn expand_file(src: &str) -> String {
    let file: syn::File = syn::parse_str(src).expect("snapshot input parses");
    let mut out = TokenStream::new();
    for item in file.items {
        let syn::Item::Fn(mut f) = item else {
            item.to_tokens(&mut out);
            continue;
        };
        let pos = f.attrs.iter().position(|a| {
            let segs: Vec<String> = a
                .path()
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            segs.len() == 2 && segs[0] == "staso"
        });
        let Some(pos) = pos else {
            f.to_tokens(&mut out);
            continue;
        };
        let attr = f.attrs.remove(pos);
        let which = attr.path().segments[1].ident.to_string();
        let args = match &attr.meta {
            syn::Meta::List(l) => l.tokens.clone(),
            _ => TokenStream::new(),
        };
        let item = f.to_token_stream();
        let expanded = match which.as_str() {
            "agent" => crate::expand::span_attr(SpanAttr::Agent, args, item, true),
            "tool" => crate::expand::span_attr(SpanAttr::Tool, args, item, true),
            "trace" => crate::expand::span_attr(SpanAttr::Trace, args, item, true),
            "main" => crate::main_attr::main_attr(args, item, true),
            other => panic!("unknown attribute staso::{other}"),
        };
        out.extend(expanded);
    }
    let file: syn::File = syn::parse2(out).expect("expansion parses as a file");
    prettyplease::unparse(&file)
}

#[test]
fn expansion_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let bless = std::env::var_os("STASO_BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rs")
                && !p.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    for input in inputs {
        let src = std::fs::read_to_string(&input).expect("read input");
        let got = expand_file(&src);
        assert!(!got.contains("staso_core"), "only ::staso::__private paths");
        assert!(!got.contains("cfg("), "no cfg in user code");
        let snap = input.with_extension("expanded.rs");
        if bless {
            std::fs::write(&snap, &got).expect("write snapshot");
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        assert!(
            got == want,
            "expansion of {} changed; run with STASO_BLESS=1 and review.\n--- got:\n{got}",
            input.display()
        );
    }
}
