//! The console's web app, built from `console/` with npm (`npm --prefix console ci &&
//! npm --prefix console run build`) into `crates/server/assets/console/`, which is committed
//! and compiled into the binary: the server needs no files and no Node at run time.

use http::{Response, StatusCode, header};

/// One built file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../assets/console/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/console/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/console/app.css"),
    },
];

/// What the page may load and do: its own scripts and styles, its own API, nothing framed.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The asset at `path` (`/index.html` is `/`).
pub(super) fn serve(path: &str) -> Option<Response<s3s::Body>> {
    let path = if path == "/index.html" { "/" } else { path };
    let asset = ASSETS.iter().find(|a| a.path == path)?;
    Some(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::CACHE_CONTROL, "no-cache")
            .header(header::CONTENT_SECURITY_POLICY, CSP)
            .header(header::X_FRAME_OPTIONS, "DENY")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::REFERRER_POLICY, "no-referrer")
            .body(s3s::Body::from(bytes::Bytes::from_static(asset.body)))
            .expect("valid"),
    )
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The committed build is the build of the committed sources: `console/build.mjs` writes
    /// this digest of its inputs next to the assets. A change to `console/` without
    /// `npm --prefix console run build` fails here.
    #[test]
    fn the_embedded_build_matches_the_console_sources() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../console");
        let mut files = vec![
            "build.mjs".to_string(),
            "package.json".to_string(),
            "package-lock.json".to_string(),
        ];
        for entry in std::fs::read_dir(root.join("src")).expect("console/src") {
            let name = entry.expect("entry").file_name();
            files.push(format!("src/{}", name.to_string_lossy()));
        }
        files.sort();
        let mut digest = Sha256::new();
        for f in &files {
            let bytes = std::fs::read(root.join(f)).expect("source file");
            digest.update(format!("{f}\n{}\n", bytes.len()).as_bytes());
            digest.update(&bytes);
        }
        let built = include_str!("../../assets/console/source.sha256").trim();
        assert_eq!(
            hex::encode(digest.finalize()),
            built,
            "crates/server/assets/console is stale: run `npm --prefix console ci && npm --prefix console run build`"
        );
    }
}
