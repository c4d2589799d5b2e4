fn get<'life0, 'life1, 'async_trait>(
    &'life0 self,
    key: &'life1 str,
    __arg2: (u8, u8),
) -> ::core::pin::Pin<
    Box<
        dyn ::core::future::Future<
            Output = Result<String, E>,
        > + ::core::marker::Send + 'async_trait,
    >,
>
where
    'life0: 'async_trait,
    'life1: 'async_trait,
    Self: 'async_trait,
{
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "get", kind :
        ::staso::__private::Kind::Tool, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "get",
        kind: ::staso::__private::Kind::Tool,
        function: "get",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    Box::pin(async move {
        #[allow(unused_mut)]
        let mut __staso_span = ::staso::__private::start_here(&__STASO_CALLSITE);
        {
            #[allow(unused_imports)]
            use ::staso::__private::{
                CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
                CaptureSerialize as _,
            };
            if __staso_span.wants_input() {
                __staso_span
                    .args(
                        &__STASO_CALLSITE,
                        |__staso_input| {
                            __staso_input
                                .arg_known(
                                    "key",
                                    {
                                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                            "key",
                                        );
                                        __STASO_SECRET
                                    },
                                    |__staso_out| {
                                        (&&&&::staso::__private::Capture(&key))
                                            .__staso_capture(__staso_out)
                                    },
                                );
                            __staso_input
                                .arg_known(
                                    "a",
                                    {
                                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                            "a",
                                        );
                                        __STASO_SECRET
                                    },
                                    |__staso_out| {
                                        (&&&&::staso::__private::Capture({
                                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                                            let (a, b) = &__arg2;
                                            a
                                        }))
                                            .__staso_capture(__staso_out)
                                    },
                                );
                            __staso_input
                                .arg_known(
                                    "b",
                                    {
                                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                            "b",
                                        );
                                        __STASO_SECRET
                                    },
                                    |__staso_out| {
                                        (&&&&::staso::__private::Capture({
                                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                                            let (a, b) = &__arg2;
                                            b
                                        }))
                                            .__staso_capture(__staso_out)
                                    },
                                );
                        },
                    );
            }
        }
        let __staso_wants_output = __staso_span.wants_output();
        __staso_span
            .instrument(async move {
                #[allow(clippy::let_unit_value)]
                let __staso_ret = async move {
                    #[allow(
                        unknown_lints,
                        unreachable_code,
                        clippy::diverging_sub_expression,
                        clippy::let_unit_value,
                        clippy::unreachable,
                        clippy::let_with_type_underscore,
                        clippy::empty_loop
                    )]
                    if false {
                        let __staso_fake_return: Result<String, E> = loop {};
                        return __staso_fake_return;
                    }
                    {
                        if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<
                            Result<String, E>,
                        > {
                            #[allow(unreachable_code)] return __ret;
                        }
                        let __self = self;
                        let (a, b) = {
                            let __arg2 = __arg2;
                            __arg2
                        };
                        let __ret: Result<String, E> = {
                            __self.lookup(key, a + b).await
                        };
                        #[allow(unreachable_code)] __ret
                    }
                }
                    .await;
                if ::staso::__private::enabled() {
                    #[allow(unused_imports)]
                    use ::staso::__private::{
                        CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
                        CaptureSerialize as _,
                    };
                    #[allow(unused_imports)]
                    use ::staso::__private::{
                        ErrorDebug as _, ErrorDisplay as _, ErrorOpaque as _,
                    };
                    match &__staso_ret {
                        ::core::result::Result::Ok(__staso_ok) => {
                            if __staso_wants_output {
                                ::staso::__private::record_output(|__staso_out| {
                                    (&&&&::staso::__private::Capture(__staso_ok))
                                        .__staso_capture(__staso_out)
                                });
                            }
                        }
                        ::core::result::Result::Err(__staso_err) => {
                            ::staso::__private::record_error(
                                __staso_err,
                                |__staso_out| {
                                    (&&&::staso::__private::ErrorText(__staso_err))
                                        .__staso_error_text(__staso_out)
                                },
                            );
                        }
                    }
                }
                __staso_ret
            })
            .await
    })
}
