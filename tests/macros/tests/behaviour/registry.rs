//! `staso::registry()` lists every instrumented function, including methods.

#[test]
fn registry_lists_functions_and_methods() {
    let all = staso::registry();
    let find = |name: &str| {
        all.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} not registered"))
    };
    let add = find("add");
    assert_eq!(add.kind.as_str(), "tool");
    assert_eq!(add.file, "tests/macros/tests/behaviour/sync_fns.rs");
    assert_eq!(add.line, 8);
    assert!(add.module_path.ends_with("sync_fns"), "{}", add.module_path);
    assert_eq!(find("billing-agent").kind.as_str(), "agent");
    assert_eq!(find("retrieve").kind.as_str(), "retriever");
    // methods, async-trait methods
    assert_eq!(find("bump").kind.as_str(), "chain");
    assert_eq!(find("store.get").kind.as_str(), "tool");
    assert_eq!(find("returns_future").kind.as_str(), "tool");
}
