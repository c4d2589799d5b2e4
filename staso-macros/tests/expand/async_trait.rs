// What async-trait 0.1 hands to the attribute for
//     #[staso::tool] async fn get(&self, key: &str, (a, b): (u8, u8)) -> Result<String, E>
#[staso::tool]
fn get<'life0, 'life1, 'async_trait>(
    &'life0 self,
    key: &'life1 str,
    __arg2: (u8, u8),
) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<String, E>> + ::core::marker::Send + 'async_trait>>
where
    'life0: 'async_trait,
    'life1: 'async_trait,
    Self: 'async_trait,
{
    Box::pin(async move {
        if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<Result<String, E>> {
            #[allow(unreachable_code)]
            return __ret;
        }
        let __self = self;
        let (a, b) = {
            let __arg2 = __arg2;
            __arg2
        };
        let __ret: Result<String, E> = { __self.lookup(key, a + b).await };
        #[allow(unreachable_code)]
        __ret
    })
}
