//! Every form the function attributes accept compiles (and runs without a client).
#![deny(warnings)]
#![allow(dead_code)]

use std::future::Future;

#[staso::tool]
fn sync_fn(a: u8) -> u8 {
    a
}

#[staso::agent(name = "a", tags = ["x", "y"], metadata(team = "t", n = 1, r#f = 0.5), capture_input = false, capture_output = false, skip(b))]
async fn async_fn(a: u8, b: String) -> Result<u8, String> {
    let _ = b;
    Ok(a)
}

#[staso::trace(kind = "llm")]
fn generic<T, const N: usize>(x: [T; N], f: impl Fn(&T) -> bool) -> usize
where
    T: Clone,
{
    x.iter().filter(|v| f(v)).count()
}

#[staso::trace]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[staso::trace]
fn patterns((a, b): (u8, u8), [c, _]: [u8; 2], _: u8, ref d: u8, mut e: u8) -> u8 {
    e += 1;
    a + b + c + d + e
}

#[staso::trace]
fn cfg_args(#[cfg(any())] hidden: u8, #[cfg(all())] shown: u8) -> u8 {
    shown
}

#[staso::trace]
fn raw_ident(r#type: &str) -> usize {
    r#type.len()
}

#[staso::trace]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    *p
}

#[staso::trace]
fn never() -> ! {
    std::process::exit(0)
}

#[staso::trace]
fn nested_items(x: u32) -> u32 {
    #![allow(clippy::let_and_return)]
    fn helper(v: u32) -> u32 {
        v + 1
    }
    struct Local(u32);
    impl Local {
        #[staso::trace]
        fn get(&self) -> u32 {
            self.0
        }
    }
    let y = Local(helper(x)).get();
    y
}

#[staso::trace]
fn recursive(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        n + recursive(n - 1)
    }
}

#[staso::tool]
fn returns_impl_trait(n: u8) -> impl std::fmt::Display {
    n
}

#[staso::tool]
fn returns_future(n: u8) -> impl Future<Output = u8> + Send + 'static {
    async move { n }
}

#[staso::tool]
fn returns_unpin_future(n: u8) -> impl Future<Output = u8> + Unpin {
    std::future::ready(n)
}

#[staso::tool]
fn returns_borrowing_future<'a>(s: &'a str) -> impl Future<Output = usize> + 'a {
    async move { s.len() }
}

#[staso::tool]
async fn async_impl_trait(n: u8) -> impl std::fmt::Debug {
    n
}

#[staso::tool]
async fn async_refs<'a>(s: &'a str, v: &mut Vec<u8>) -> &'a str {
    v.push(1);
    s
}

/// Doc comments and other attributes stay.
#[staso::tool]
#[must_use]
#[inline]
pub fn with_attrs(a: u8) -> u8 {
    a
}

#[staso::tool]
#[no_mangle]
pub fn exported(v: &[u64]) -> u64 {
    v.iter().sum()
}

struct S {
    v: Vec<u8>,
}

impl S {
    #[staso::trace]
    fn by_ref(&self) -> &[u8] {
        &self.v
    }
    #[staso::trace]
    fn by_mut(&mut self) -> &mut Vec<u8> {
        &mut self.v
    }
    #[staso::trace]
    fn by_value(self) -> Vec<u8> {
        self.v
    }
    #[staso::trace]
    fn boxed(self: Box<Self>) -> usize {
        self.v.len()
    }
    #[staso::trace]
    async fn async_mut(&mut self, x: u8) -> &mut Self {
        self.v.push(x);
        self
    }
    #[staso::trace]
    fn returns_self() -> Self {
        S { v: vec![] }
    }
}

trait T {
    #[staso::trace]
    fn provided(&self) -> u8 {
        1
    }
    fn required(&self) -> u8;
}

impl T for S {
    #[staso::tool]
    fn required(&self) -> u8 {
        self.provided()
    }
}

#[async_trait::async_trait]
trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Option<String>;
    async fn put(&mut self, key: String, value: String) -> Result<(), String>;
    async fn unit(&self);
}

#[async_trait::async_trait]
impl Store for S {
    #[staso::tool(skip(key))]
    async fn get(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
    #[staso::tool]
    async fn put(&mut self, key: String, value: String) -> Result<(), String> {
        if key.is_empty() {
            return Err("empty".into());
        }
        let _ = value;
        Ok(())
    }
    #[staso::tool]
    async fn unit(&self) {}
}

trait Native {
    async fn fetch(&self, id: u32) -> Result<u32, String>;
}

impl Native for S {
    #[staso::tool]
    async fn fetch(&self, id: u32) -> Result<u32, String> {
        Ok(id + self.v.len() as u32)
    }
}

impl S {
    #[staso::trace]
    fn iter(&self) -> impl Iterator<Item = &u8> + '_ {
        self.v.iter()
    }
}

macro_rules! make_tool {
    ($name:ident, $t:ty) => {
        #[staso::tool]
        fn $name(x: $t) -> Result<$t, String> {
            Ok(x)
        }
    };
}

make_tool!(from_macro, u16);

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

fn main() {
    assert_eq!(sync_fn(1), 1);
    assert_eq!(generic([1, 2, 3], |v| *v > 1), 2);
    assert_eq!(lifetimes("a", "b"), "a");
    assert_eq!(patterns((1, 1), [1, 9], 0, 1, 1), 6);
    assert_eq!(raw_ident("abc"), 3);
    assert_eq!(cfg_args(4), 4);
    assert_eq!(unsafe { unsafe_fn(&7) }, 7);
    assert_eq!(nested_items(1), 2);
    assert_eq!(recursive(3), 6);
    assert_eq!(returns_impl_trait(3).to_string(), "3");
    let _ = with_attrs(1);
    assert_eq!(exported(&[1, 2]), 3);
    let mut s = S { v: vec![1] };
    assert_eq!(s.by_ref(), &[1]);
    s.by_mut().push(2);
    assert_eq!(s.required(), 1);
    assert_eq!(s.iter().count(), 2);
    assert_eq!(from_macro(3), Ok(3));
    assert_eq!(Box::new(S::returns_self()).boxed(), 0);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        assert_eq!(assert_send(async_fn(1, String::new())).await, Ok(1));
        assert_eq!(assert_send(returns_future(2)).await, 2);
        assert_eq!(returns_unpin_future(2).await, 2);
        assert_eq!(returns_borrowing_future("ab").await, 2);
        assert_eq!(format!("{:?}", async_impl_trait(4).await), "4");
        let mut v = vec![];
        assert_eq!(async_refs("x", &mut v).await, "x");
        s.async_mut(3).await;
        assert_eq!(assert_send(s.get("k")).await, None);
        assert_eq!(s.put("k".into(), "v".into()).await, Ok(()));
        s.unit().await;
        assert_eq!(s.fetch(1).await, Ok(4));
    });
    assert_eq!(s.by_value(), vec![1, 2, 3]);
    if std::env::args().count() > 10 {
        never();
    }
}
