//! What a request names before s3s routes it: its bucket and whether it names a key, from the
//! host under the base domain (virtual-hosted style, `<bucket>.localhost`) or else from the
//! path (path style, `/<bucket>/<key>`). The shell needs it for CORS and for telling object
//! uploads from XML bodies; s3s makes the same decision for routing (`SingleDomain`).

/// A request's bucket and key, as the shell sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The bucket, if the request names one.
    pub bucket: Option<String>,
    /// Whether it names an object key too.
    pub names_key: bool,
    /// The key, percent-decoded (for the record of a request refused before s3s parsed it).
    pub key: Option<String>,
}

fn decoded(key: &str) -> Option<String> {
    (!key.is_empty()).then(|| {
        percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned()
    })
}

/// The host a request was sent to, without the port: the URI's authority (HTTP/2), else
/// the Host header.
fn host(parts: &http::request::Parts) -> Option<&str> {
    let h = parts.uri.host().or_else(|| {
        parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })?;
    Some(match h.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => h,
    })
}

/// The target of a request, with `base_domain` the server's virtual-hosting domain.
#[must_use]
pub fn of(parts: &http::request::Parts, base_domain: &str) -> Target {
    let path = parts.uri.path().trim_start_matches('/');
    let hosted = host(parts).and_then(|h| {
        let b = h
            .to_ascii_lowercase()
            .strip_suffix(base_domain)?
            .strip_suffix('.')?
            .to_string();
        (!b.is_empty()).then_some(b)
    });
    match hosted {
        Some(bucket) => Target {
            bucket: Some(bucket),
            names_key: !path.is_empty(),
            key: decoded(path),
        },
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            Target {
                bucket: (!bucket.is_empty()).then(|| bucket.to_string()),
                names_key: !key.is_empty(),
                key: decoded(key),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, uri: &str) -> Target {
        let (parts, ()) = http::Request::builder()
            .uri(uri)
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts();
        of(&parts, "localhost")
    }

    #[test]
    fn bucket_from_the_host_under_the_base_domain_else_from_the_path() {
        let t = target("leadshop-assets.localhost:9443", "/a/b.png");
        assert_eq!(t.bucket.as_deref(), Some("leadshop-assets"));
        assert!(t.names_key);
        let t = target("leadshop-assets.localhost", "/");
        assert_eq!(t.bucket.as_deref(), Some("leadshop-assets"));
        assert!(!t.names_key);
        let t = target("localhost:9443", "/leadshop-assets/a/b.png");
        assert_eq!(t.bucket.as_deref(), Some("leadshop-assets"));
        assert!(t.names_key);
        let t = target("127.0.0.1:9443", "/leadshop-assets");
        assert_eq!(t.bucket.as_deref(), Some("leadshop-assets"));
        assert!(!t.names_key);
        assert_eq!(target("127.0.0.1", "/"), Target::default());
        // A host merely ending in the base domain's letters is not under it.
        let t = target("evillocalhost", "/b/k");
        assert_eq!(t.bucket.as_deref(), Some("b"));
    }
}
