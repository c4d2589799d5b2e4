//! Methods with `self`, `&self`, `&mut self`, in generic impls and trait impls.

use crate::{input, result};
use serde_json::json;
use staso::testing::capture;

#[derive(Debug, Clone)]
struct Counter {
    n: u32,
    log: Vec<String>,
}

impl Counter {
    #[staso::trace]
    fn get(&self) -> u32 {
        self.n
    }

    #[staso::trace]
    fn bump(&mut self, by: u32) -> u32 {
        if by == 0 {
            return self.n;
        }
        self.n += by;
        self.log.push(format!("+{by}"));
        self.n
    }

    #[staso::trace]
    fn last_mut(&mut self) -> Option<&mut String> {
        self.log.last_mut()
    }

    #[staso::trace]
    fn name_ref(&self) -> &str {
        self.log.first().map(String::as_str).unwrap_or("")
    }

    #[staso::tool]
    fn into_total(self, extra: u32) -> u32 {
        self.n + extra
    }

    #[staso::trace]
    fn new(n: u32) -> Self {
        Counter { n, log: vec![] }
    }
}

#[test]
fn methods_with_every_receiver() {
    let (total, spans) = capture(|| {
        let mut c = Counter::new(1);
        assert_eq!(c.get(), 1);
        assert_eq!(c.bump(2), 3);
        assert_eq!(c.bump(0), 3);
        if let Some(s) = c.last_mut() {
            s.push('!');
        }
        assert_eq!(c.name_ref(), "+2!");
        c.into_total(10)
    });
    assert_eq!(total, 13);
    let names: Vec<_> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "new",
            "get",
            "bump",
            "bump",
            "last_mut",
            "name_ref",
            "into_total"
        ]
    );
    // `self` is never captured; the other arguments are.
    assert_eq!(input(spans.named("bump")), json!({"by": 2}));
    assert_eq!(input(spans.named("into_total")), json!({"extra": 10}));
    assert_eq!(result(spans.named("name_ref")), json!("+2!"));
    // `Counter` is Debug only: its Debug text.
    assert!(result(spans.named("new"))
        .as_str()
        .is_some_and(|s| s.starts_with("Counter")));
}

struct Wrapper<T>(T);

impl<T: Clone + serde::Serialize> Wrapper<T> {
    #[staso::trace]
    fn dup(&self, times: usize) -> Vec<T> {
        vec![self.0.clone(); times]
    }
}

trait Greeter {
    fn greet(&self, who: &str) -> String;
    #[staso::trace]
    fn default_greet(&self) -> String {
        self.greet("world")
    }
}

struct En;

impl Greeter for En {
    #[staso::tool]
    fn greet(&self, who: &str) -> String {
        format!("hello {who}")
    }
}

#[test]
fn generic_impls_and_trait_methods() {
    let (_, spans) = capture(|| {
        assert_eq!(Wrapper(5u8).dup(2), vec![5, 5]);
        assert_eq!(En.default_greet(), "hello world");
    });
    assert_eq!(result(spans.named("dup")), json!([5, 5]));
    let greet = spans.named("greet");
    let default = spans.named("default_greet");
    assert_eq!(greet.parent_span_id(), Some(default.span_id()));
    assert_eq!(result(greet), json!("hello world"));
}
