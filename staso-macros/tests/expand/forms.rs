// Forms beyond the four basic shapes: guard, metadata, skipped arguments,
// patterns, `#[track_caller]`, `-> !`, `impl Future + Unpin`, and async-trait patterns.

#[staso::tool(guard, skip(token), metadata(team = "ops", tier = 2))]
fn delete_file(token: &str, mut path: String) -> Result<(), Error> {
    std::fs::remove_file(path)?;
    Ok(())
}

#[staso::tool(guard, name = "mail.send")]
async fn send_mail((to, subject): (String, String), _: u8) -> anyhow::Result<u64> {
    Ok(mailer().send(&to, &subject).await?)
}

#[staso::tool(capture_output = false)]
fn fallible_no_output(id: u64) -> Result<u64, std::io::Error> {
    Ok(id)
}

#[staso::tool(capture_output = false)]
fn no_output(n: u64) -> u64 {
    n
}

#[staso::trace(capture_output = false, tags = ["hot"])]
#[track_caller]
fn located(r#type: u8) -> &'static std::panic::Location<'static> {
    std::panic::Location::caller()
}

#[staso::trace(capture_input = false)]
fn forever(code: i32) -> ! {
    std::process::exit(code)
}

#[staso::agent(metadata("build id" = env!("CARGO_PKG_VERSION")))]
fn unpinned(n: u8) -> impl Future<Output = u8> + Unpin {
    std::future::ready(n)
}

#[staso::trace]
fn nothing() {}

// What async-trait 0.1 hands to the attribute for
//     #[staso::tool(guard)]
//     async fn put(&self, Pair { key, mut secret }: Pair, _: u8) -> Result<(), E>
#[staso::tool(guard)]
fn put<'life0, 'async_trait>(
    &'life0 self,
    __arg1: Pair,
    __arg2: u8,
) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<(), E>> + ::core::marker::Send + 'async_trait>>
where
    'life0: 'async_trait,
    Self: 'async_trait,
{
    Box::pin(async move {
        let __self = self;
        let Pair { key, mut secret } = {
            let __arg1 = __arg1;
            __arg1
        };
        let __arg2 = __arg2;
        let __ret: Result<(), E> = { __self.store(key, secret).await };
        #[allow(unreachable_code)]
        __ret
    })
}

// A boxed future whose output cannot be read: no fake return, no output type.
#[staso::trace]
fn opaque(&self) -> Pin<Box<dyn Stream>> {
    Box::pin(async move { 1 })
}

#[staso::main(ca_cert_path = "ca.pem", sample_rate = 0.5, max_queue_size = 100, capture_git = false)]
fn main() {}
