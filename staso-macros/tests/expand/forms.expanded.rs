fn delete_file(token: &str, mut path: String) -> Result<(), Error> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "delete_file",
        kind : ::staso::__private::Kind::Tool, module_path : ::core::module_path!(), file
        : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "delete_file",
        kind: ::staso::__private::Kind::Tool,
        function: "delete_file",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
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
                                "path",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "path",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&path))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
        if __staso_span.is_recording() {
            {
                let __staso_value = &"ops";
                __staso_span
                    .metadata(
                        "team",
                        |__staso_out| {
                            (&&&&::staso::__private::Capture(__staso_value))
                                .__staso_capture(__staso_out)
                        },
                    );
            }
            {
                let __staso_value = &2;
                __staso_span
                    .metadata(
                        "tier",
                        |__staso_out| {
                            (&&&&::staso::__private::Capture(__staso_value))
                                .__staso_capture(__staso_out)
                        },
                    );
            }
        }
    }
    __staso_span.opened();
    #[allow(unused_mut)]
    let mut __staso_guard = ::staso::__private::GuardInput::new(&__STASO_CALLSITE);
    if __staso_guard.wants_args() {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
            CaptureSerialize as _,
        };
        __staso_guard
            .arg_known(
                "path",
                {
                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                        "path",
                    );
                    __STASO_SECRET
                },
                |__staso_out| {
                    (&&&&::staso::__private::Capture(&path)).__staso_capture(__staso_out)
                },
            );
    }
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    #[allow(clippy::let_unit_value)]
    let __staso_ret = __staso_call_once(move || {
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
            let __staso_fake_return: Result<(), Error> = loop {};
            return __staso_fake_return;
        }
        if let ::core::result::Result::Err(__staso_blocked) = __staso_guard
            .check_blocking()
        {
            return ::core::result::Result::Err(
                ::staso::__private::FromGuardBlocked::from_guard_blocked(__staso_blocked),
            );
        }
        {
            std::fs::remove_file(path)?;
            Ok(())
        }
    });
    if __staso_span.is_recording() {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
            CaptureSerialize as _,
        };
        #[allow(unused_imports)]
        use ::staso::__private::{ErrorDebug as _, ErrorDisplay as _, ErrorOpaque as _};
        match &__staso_ret {
            ::core::result::Result::Ok(__staso_ok) => {
                if __staso_span.wants_output() {
                    __staso_span
                        .output(|__staso_out| {
                            (&&&&::staso::__private::Capture(__staso_ok))
                                .__staso_capture(__staso_out)
                        });
                }
            }
            ::core::result::Result::Err(__staso_err) => {
                __staso_span
                    .error(
                        __staso_err,
                        |__staso_out| {
                            (&&&::staso::__private::ErrorText(__staso_err))
                                .__staso_error_text(__staso_out)
                        },
                    );
            }
        }
    }
    __staso_span.returned();
    __staso_ret
}
async fn send_mail((to, subject): (String, String), _: u8) -> anyhow::Result<u64> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "mail.send",
        kind : ::staso::__private::Kind::Tool, module_path : ::core::module_path!(), file
        : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "mail.send",
        kind: ::staso::__private::Kind::Tool,
        function: "send_mail",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
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
                                "to",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "to",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&to))
                                        .__staso_capture(__staso_out)
                                },
                            );
                        __staso_input
                            .arg_known(
                                "subject",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "subject",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&subject))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
    }
    #[allow(unused_mut)]
    let mut __staso_guard = ::staso::__private::GuardInput::new(&__STASO_CALLSITE);
    if __staso_guard.wants_args() {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
            CaptureSerialize as _,
        };
        __staso_guard
            .arg_known(
                "to",
                {
                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                        "to",
                    );
                    __STASO_SECRET
                },
                |__staso_out| {
                    (&&&&::staso::__private::Capture(&to)).__staso_capture(__staso_out)
                },
            );
        __staso_guard
            .arg_known(
                "subject",
                {
                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                        "subject",
                    );
                    __STASO_SECRET
                },
                |__staso_out| {
                    (&&&&::staso::__private::Capture(&subject))
                        .__staso_capture(__staso_out)
                },
            );
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
                    let __staso_fake_return: anyhow::Result<u64> = loop {};
                    return __staso_fake_return;
                }
                if let ::core::result::Result::Err(__staso_blocked) = __staso_guard
                    .check()
                    .await
                {
                    return ::core::result::Result::Err(
                        ::staso::__private::FromGuardBlocked::from_guard_blocked(
                            __staso_blocked,
                        ),
                    );
                }
                { Ok(mailer().send(&to, &subject).await?) }
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
}
fn fallible_no_output(id: u64) -> Result<u64, std::io::Error> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name :
        "fallible_no_output", kind : ::staso::__private::Kind::Tool, module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "fallible_no_output",
        kind: ::staso::__private::Kind::Tool,
        function: "fallible_no_output",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: false,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
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
                                "id",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "id",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&id))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
    }
    __staso_span.opened();
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    #[allow(clippy::let_unit_value)]
    let __staso_ret = __staso_call_once(move || {
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
            let __staso_fake_return: Result<u64, std::io::Error> = loop {};
            return __staso_fake_return;
        }
        { Ok(id) }
    });
    if __staso_span.is_recording() {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
            CaptureSerialize as _,
        };
        #[allow(unused_imports)]
        use ::staso::__private::{ErrorDebug as _, ErrorDisplay as _, ErrorOpaque as _};
        match &__staso_ret {
            ::core::result::Result::Ok(_) => {}
            ::core::result::Result::Err(__staso_err) => {
                __staso_span
                    .error(
                        __staso_err,
                        |__staso_out| {
                            (&&&::staso::__private::ErrorText(__staso_err))
                                .__staso_error_text(__staso_out)
                        },
                    );
            }
        }
    }
    __staso_span.returned();
    __staso_ret
}
fn no_output(n: u64) -> u64 {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "no_output",
        kind : ::staso::__private::Kind::Tool, module_path : ::core::module_path!(), file
        : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "no_output",
        kind: ::staso::__private::Kind::Tool,
        function: "no_output",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: false,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
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
                                "n",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "n",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&n))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
    }
    __staso_span.opened();
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    #[allow(clippy::let_unit_value)]
    let __staso_ret = __staso_call_once(move || {
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
            let __staso_fake_return: u64 = loop {};
            return __staso_fake_return;
        }
        { n }
    });
    __staso_span.returned();
    __staso_ret
}
#[track_caller]
fn located(r#type: u8) -> &'static std::panic::Location<'static> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "located", kind
        : ::staso::__private::Kind::Chain, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "located",
        kind: ::staso::__private::Kind::Chain,
        function: "located",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &["hot"],
        capture_input: true,
        capture_output: false,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
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
                                "type",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "type",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&r#type))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
    }
    __staso_span.opened();
    std::panic::Location::caller()
}
fn forever(code: i32) -> ! {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "forever", kind
        : ::staso::__private::Kind::Chain, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "forever",
        kind: ::staso::__private::Kind::Chain,
        function: "forever",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: false,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
    __staso_span.opened();
    std::process::exit(code)
}
fn unpinned(n: u8) -> impl Future<Output = u8> + Unpin {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "unpinned",
        kind : ::staso::__private::Kind::Agent, module_path : ::core::module_path!(),
        file : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "unpinned",
        kind: ::staso::__private::Kind::Agent,
        function: "unpinned",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::start(&__STASO_CALLSITE);
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
                                "n",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "n",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&n))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
        if ::staso::__private::enabled() {
            {
                let __staso_value = &env!("CARGO_PKG_VERSION");
                __staso_span
                    .metadata(
                        "build id",
                        |__staso_out| {
                            (&&&&::staso::__private::Capture(__staso_value))
                                .__staso_capture(__staso_out)
                        },
                    );
            }
        }
    }
    let __staso_wants_output = __staso_span.wants_output();
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    let __staso_fut = __staso_call_once(move || { std::future::ready(n) });
    ::std::boxed::Box::pin(
        __staso_span
            .instrument(async move {
                #[allow(clippy::let_unit_value)]
                let __staso_ret = __staso_fut.await;
                if __staso_wants_output {
                    #[allow(unused_imports)]
                    use ::staso::__private::{
                        CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
                        CaptureSerialize as _,
                    };
                    ::staso::__private::record_output(|__staso_out| {
                        (&&&&::staso::__private::Capture(&__staso_ret))
                            .__staso_capture(__staso_out)
                    });
                }
                __staso_ret
            }),
    )
}
fn nothing() {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "nothing", kind
        : ::staso::__private::Kind::Chain, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "nothing",
        kind: ::staso::__private::Kind::Chain,
        function: "nothing",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &[],
        capture_input: true,
        capture_output: true,
        decided: ::staso::__private::SiteDecision::NEW,
    };
    #[allow(unused_mut)]
    let mut __staso_span = ::staso::__private::enter(&__STASO_CALLSITE);
    __staso_span.opened();
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    #[allow(clippy::let_unit_value)]
    let __staso_ret = __staso_call_once(move || {
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
            let __staso_fake_return: () = loop {};
            return __staso_fake_return;
        }
        {}
    });
    if __staso_span.wants_output() {
        #[allow(unused_imports)]
        use ::staso::__private::{
            CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
            CaptureSerialize as _,
        };
        __staso_span
            .output(|__staso_out| {
                (&&&&::staso::__private::Capture(&__staso_ret))
                    .__staso_capture(__staso_out)
            });
    }
    __staso_span.returned();
    __staso_ret
}
fn put<'life0, 'async_trait>(
    &'life0 self,
    __arg1: Pair,
    __arg2: u8,
) -> ::core::pin::Pin<
    Box<
        dyn ::core::future::Future<
            Output = Result<(), E>,
        > + ::core::marker::Send + 'async_trait,
    >,
>
where
    'life0: 'async_trait,
    Self: 'async_trait,
{
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "put", kind :
        ::staso::__private::Kind::Tool, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "put",
        kind: ::staso::__private::Kind::Tool,
        function: "put",
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
                                        (&&&&::staso::__private::Capture({
                                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                                            let Pair { key, secret } = &__arg1;
                                            key
                                        }))
                                            .__staso_capture(__staso_out)
                                    },
                                );
                            __staso_input
                                .arg_known(
                                    "secret",
                                    {
                                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                            "secret",
                                        );
                                        __STASO_SECRET
                                    },
                                    |__staso_out| {
                                        (&&&&::staso::__private::Capture({
                                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                                            let Pair { key, secret } = &__arg1;
                                            secret
                                        }))
                                            .__staso_capture(__staso_out)
                                    },
                                );
                        },
                    );
            }
        }
        #[allow(unused_mut)]
        let mut __staso_guard = ::staso::__private::GuardInput::new(&__STASO_CALLSITE);
        if __staso_guard.wants_args() {
            #[allow(unused_imports)]
            use ::staso::__private::{
                CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
                CaptureSerialize as _,
            };
            __staso_guard
                .arg_known(
                    "key",
                    {
                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                            "key",
                        );
                        __STASO_SECRET
                    },
                    |__staso_out| {
                        (&&&&::staso::__private::Capture({
                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                            let Pair { key, secret } = &__arg1;
                            key
                        }))
                            .__staso_capture(__staso_out)
                    },
                );
            __staso_guard
                .arg_known(
                    "secret",
                    {
                        const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                            "secret",
                        );
                        __STASO_SECRET
                    },
                    |__staso_out| {
                        (&&&&::staso::__private::Capture({
                            #[allow(unused_variables, clippy::toplevel_ref_arg)]
                            let Pair { key, secret } = &__arg1;
                            secret
                        }))
                            .__staso_capture(__staso_out)
                    },
                );
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
                        let __staso_fake_return: Result<(), E> = loop {};
                        return __staso_fake_return;
                    }
                    if let ::core::result::Result::Err(__staso_blocked) = __staso_guard
                        .check()
                        .await
                    {
                        return ::core::result::Result::Err(
                            ::staso::__private::FromGuardBlocked::from_guard_blocked(
                                __staso_blocked,
                            ),
                        );
                    }
                    {
                        let __self = self;
                        let Pair { key, mut secret } = {
                            let __arg1 = __arg1;
                            __arg1
                        };
                        let __arg2 = __arg2;
                        let __ret: Result<(), E> = { __self.store(key, secret).await };
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
fn opaque(&self) -> Pin<Box<dyn Stream>> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "opaque", kind
        : ::staso::__private::Kind::Chain, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "opaque",
        kind: ::staso::__private::Kind::Chain,
        function: "opaque",
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
        let __staso_wants_output = __staso_span.wants_output();
        __staso_span
            .instrument(async move {
                #[allow(clippy::let_unit_value)]
                let __staso_ret = async move { { 1 } }.await;
                if __staso_wants_output {
                    #[allow(unused_imports)]
                    use ::staso::__private::{
                        CaptureDebug as _, CaptureOpaque as _, CaptureScalar as _,
                        CaptureSerialize as _,
                    };
                    ::staso::__private::record_output(|__staso_out| {
                        (&&&&::staso::__private::Capture(&__staso_ret))
                            .__staso_capture(__staso_out)
                    });
                }
                __staso_ret
            })
            .await
    })
}
fn main() {
    let __staso_main_guard = ::staso::__private::main_init({
        let mut __staso_options = ::staso::__private::Options::default();
        __staso_options.ca_cert_path = ::core::option::Option::Some(
            ::std::path::PathBuf::from("ca.pem"),
        );
        __staso_options.sample_rate = ::core::option::Option::Some(0.5f64);
        __staso_options.max_queue_size = ::core::option::Option::Some(100);
        __staso_options.capture_git = ::core::option::Option::Some(false);
        __staso_options.git = ::core::option::Option::None;
        __staso_options
    });
}
