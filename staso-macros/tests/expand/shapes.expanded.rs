fn refund(api_key: &str, charge: &str, cents: u64) -> Result<u64, RefundError> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name :
        "stripe.refund", kind : ::staso::__private::Kind::Tool, module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "stripe.refund",
        kind: ::staso::__private::Kind::Tool,
        function: "refund",
        module_path: ::core::module_path!(),
        file: ::core::file!(),
        line: ::core::line!(),
        tags: &["payments"],
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
                                "charge",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "charge",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&charge))
                                        .__staso_capture(__staso_out)
                                },
                            );
                        __staso_input
                            .arg_known(
                                "cents",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "cents",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&cents))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
        if __staso_span.is_recording() {
            {
                let __staso_value = &"billing";
                __staso_span
                    .metadata(
                        "team",
                        |__staso_out| {
                            (&&&&::staso::__private::Capture(__staso_value))
                                .__staso_capture(__staso_out)
                        },
                    );
            }
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
            let __staso_fake_return: Result<u64, RefundError> = loop {};
            return __staso_fake_return;
        }
        {
            if cents == 0 {
                return Err(RefundError::Zero);
            }
            Ok(cents)
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
fn total(items: &[u64]) -> u64 {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "total", kind :
        ::staso::__private::Kind::Chain, module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "total",
        kind: ::staso::__private::Kind::Chain,
        function: "total",
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
                                "items",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "items",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&items))
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
        { items.iter().sum() }
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
async fn handle(ticket: Ticket) -> Result<String, Error> {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name :
        "billing-agent", kind : ::staso::__private::Kind::Agent, module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "billing-agent",
        kind: ::staso::__private::Kind::Agent,
        function: "handle",
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
                                "ticket",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "ticket",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&ticket))
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
                    let __staso_fake_return: Result<String, Error> = loop {};
                    return __staso_fake_return;
                }
                {
                    let refund = refund("sk", &ticket.charge, ticket.cents)?;
                    Ok(format!("refunded {refund}"))
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
}
fn search(query: String) -> impl Future<Output = Vec<Doc>> + Send {
    ::staso::__private::inventory::submit! {
        ::staso::__private::Entry(::staso::__private::Registered { name : "search", kind
        : ::staso::__private::Kind::Retriever, module_path : ::core::module_path!(), file
        : ::core::file!(), line : ::core::line!(), })
    }
    static __STASO_CALLSITE: ::staso::__private::CallSite = ::staso::__private::CallSite {
        name: "search",
        kind: ::staso::__private::Kind::Retriever,
        function: "search",
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
                                "query",
                                {
                                    const __STASO_SECRET: bool = ::staso::__private::is_secret_name(
                                        "query",
                                    );
                                    __STASO_SECRET
                                },
                                |__staso_out| {
                                    (&&&&::staso::__private::Capture(&query))
                                        .__staso_capture(__staso_out)
                                },
                            );
                    },
                );
        }
    }
    let __staso_wants_output = __staso_span.wants_output();
    #[inline(always)]
    fn __staso_call_once<R>(f: impl ::core::ops::FnOnce() -> R) -> R {
        f()
    }
    let __staso_fut = __staso_call_once(move || {
        async move { index().search(&query).await }
    });
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
        })
}
fn main() -> anyhow::Result<()> {
    let __staso_main_guard = ::staso::__private::main_init({
        let mut __staso_options = ::staso::__private::Options::default();
        __staso_options.agent_name = ::core::option::Option::Some(
            ::std::string::String::from("billing"),
        );
        __staso_options.flush_interval = ::core::option::Option::Some(
            ::core::time::Duration::from_secs_f64(0.5),
        );
        __staso_options.shutdown_timeout = ::core::option::Option::Some(
            ::core::time::Duration::from_secs_f64(5.0),
        );
        __staso_options.capture_git = ::core::option::Option::Some(false);
        __staso_options.git = ::core::option::Option::None;
        __staso_options
    });
    ::staso::__private::block_on(async move {
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
            let __staso_fake_return: anyhow::Result<()> = loop {};
            return __staso_fake_return;
        }
        {
            handle(Ticket::default()).await?;
            Ok(())
        }
    })
}
