//! The page's files, embedded in the binary: `staso-collector/viewer/`.

/// One embedded file.
pub(crate) struct Asset {
    pub path: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
}

/// The page (answered for `/` and every page route).
pub(crate) const INDEX: &Asset = &Asset {
    path: "/",
    mime: "text/html; charset=utf-8",
    body: include_bytes!("../../viewer/index.html"),
};

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    Asset {
        path: "/assets/viewer.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../viewer/viewer.css"),
    },
    Asset {
        path: "/assets/app.js",
        mime: JS,
        body: include_bytes!("../../viewer/app.js"),
    },
    Asset {
        path: "/assets/util.js",
        mime: JS,
        body: include_bytes!("../../viewer/util.js"),
    },
    Asset {
        path: "/assets/list.js",
        mime: JS,
        body: include_bytes!("../../viewer/list.js"),
    },
    Asset {
        path: "/assets/trace.js",
        mime: JS,
        body: include_bytes!("../../viewer/trace.js"),
    },
    Asset {
        path: "/assets/waterfall.js",
        mime: JS,
        body: include_bytes!("../../viewer/waterfall.js"),
    },
    Asset {
        path: "/assets/detail.js",
        mime: JS,
        body: include_bytes!("../../viewer/detail.js"),
    },
    Asset {
        path: "/assets/transcript.js",
        mime: JS,
        body: include_bytes!("../../viewer/transcript.js"),
    },
    Asset {
        path: "/assets/conversations.js",
        mime: JS,
        body: include_bytes!("../../viewer/conversations.js"),
    },
    Asset {
        path: "/favicon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("../../viewer/favicon.svg"),
    },
];

/// The embedded file served at `path`.
pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}
