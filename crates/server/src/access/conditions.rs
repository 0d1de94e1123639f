//! The condition context of one request: every `aws:*` and `s3:*` key a policy can test,
//! gathered once from the connection, the headers, the query and the caller.

use std::net::IpAddr;

use http::{HeaderMap, Uri};
use leadshop_spec::Operation;
use leadshop_spec::policy::{Cidr, Context};
use percent_encoding::percent_decode_str;

use crate::context::RequestContext;
use leadshop_keys::Identity;

/// What the context is built from.
pub struct Inputs<'a> {
    /// The request context the shell made (connection, TLS).
    pub request: Option<&'a RequestContext>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Request URI.
    pub uri: &'a Uri,
    /// The caller, `None` when anonymous.
    pub identity: Option<&'a Identity>,
    /// The account that owns keys and buckets.
    pub account_id: &'a str,
    /// Peers trusted for `X-Forwarded-For` / `-Proto`.
    pub trusted_proxies: &'a [Cidr],
    /// The S3 operation, for operation-specific keys (`None`: one the server does not know).
    pub operation: Option<Operation>,
    /// The time of the request, from the server's clock (`aws:CurrentTime`, `aws:EpochTime`).
    pub now_ms: i64,
}

/// Whether the request reached us over TLS, and from which address: from the connection, or
/// from `X-Forwarded-Proto` / `X-Forwarded-For` when the peer is a trusted proxy.
#[must_use]
pub fn transport(
    request: Option<&RequestContext>,
    headers: &HeaderMap,
    trusted: &[Cidr],
) -> (bool, Option<IpAddr>) {
    let Some(rc) = request else {
        return (false, None);
    };
    let peer = rc.conn.remote.ip();
    let mut secure = rc.secure_transport();
    let mut source = peer;
    if trusted.iter().any(|c| c.contains(peer)) {
        if let Some(proto) = header(headers, "x-forwarded-proto") {
            secure = proto.trim().eq_ignore_ascii_case("https");
        }
        if let Some(xff) = header(headers, "x-forwarded-for") {
            // Walk from the nearest hop outwards; the first address no trusted proxy owns is
            // the client (left entries can be forged by the client itself).
            for hop in xff.rsplit(',') {
                let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                    break;
                };
                source = ip;
                if !trusted.iter().any(|c| c.contains(ip)) {
                    break;
                }
            }
        }
    }
    (secure, Some(source))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The query's parameters, percent-decoded.
#[must_use]
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// The condition keys a write carries in a header of the same name, in a PutObject's headers
/// or a POST upload's form fields alike.
pub(super) const WRITE_KEYS: [(&str, &str); 5] = [
    (
        "s3:x-amz-server-side-encryption",
        "x-amz-server-side-encryption",
    ),
    (
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-algorithm",
    ),
    ("s3:x-amz-acl", "x-amz-acl"),
    ("s3:x-amz-storage-class", "x-amz-storage-class"),
];

/// Builds the condition context.
#[must_use]
pub fn build(inp: &Inputs<'_>) -> Context {
    let mut cx = Context::with_capacity(32);
    let (secure, source) = transport(inp.request, inp.headers, inp.trusted_proxies);
    cx.set("aws:SecureTransport", if secure { "true" } else { "false" });
    if let Some(ip) = source {
        cx.set("aws:SourceIp", ip.to_string());
    }
    if let Some(tls) = inp.request.and_then(|r| r.conn.tls.as_ref()) {
        // s3:TlsVersion is numeric: "1.2", "1.3".
        cx.set("s3:TlsVersion", tls.version.trim_start_matches("TLSv"));
    }
    for &(key, name) in [
        ("aws:UserAgent", "user-agent"),
        ("aws:Referer", "referer"),
        ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
    ]
    .iter()
    .chain(&WRITE_KEYS)
    {
        if let Some(v) = header(inp.headers, name) {
            cx.set(key, v);
        }
    }
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(inp.now_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    cx.set(
        "aws:CurrentTime",
        now.replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    );
    cx.set("aws:EpochTime", now.unix_timestamp().to_string());
    match inp.identity {
        Some(id) => {
            cx.set("aws:PrincipalArn", id.arn(inp.account_id));
            cx.set("aws:PrincipalAccount", inp.account_id);
            cx.set("aws:PrincipalType", "User");
            cx.set("aws:username", id.name.clone());
            cx.set("aws:userid", id.user_id.clone());
        }
        None => {
            cx.set("aws:PrincipalType", "Anonymous");
        }
    }

    let query = query_pairs(inp.uri);
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if matches!(
        inp.operation,
        Some(
            Operation::ListObjects
                | Operation::ListObjectsV2
                | Operation::ListObjectVersions
                | Operation::ListMultipartUploads
        )
    ) {
        for (key, param) in [
            ("s3:prefix", "prefix"),
            ("s3:delimiter", "delimiter"),
            ("s3:max-keys", "max-keys"),
        ] {
            if let Some(v) = q(param) {
                cx.set(key, v);
            }
        }
    }
    if let Some(v) = q("versionId") {
        cx.set("s3:VersionId", v);
    }

    // How the request was signed.
    let auth = header(inp.headers, "authorization").unwrap_or_default();
    let (sig_version, auth_type) = if auth.starts_with("AWS4-HMAC-SHA256") {
        (Some("AWS4-HMAC-SHA256"), Some("REST-HEADER"))
    } else if auth.starts_with("AWS ") {
        (Some("AWS"), Some("REST-HEADER"))
    } else if q("X-Amz-Algorithm").is_some() {
        (Some("AWS4-HMAC-SHA256"), Some("REST-QUERY-STRING"))
    } else if q("Signature").is_some() && q("AWSAccessKeyId").is_some() {
        (Some("AWS"), Some("REST-QUERY-STRING"))
    } else if inp.operation == Some(Operation::PostObject) {
        (None, Some("POST"))
    } else {
        (None, None)
    };
    if let Some(v) = sig_version {
        cx.set("s3:signatureversion", v);
    }
    if let Some(v) = auth_type {
        cx.set("s3:authType", v);
    }
    let amz_date = header(inp.headers, "x-amz-date").or_else(|| q("X-Amz-Date"));
    if let Some(signed) = amz_date.and_then(crate::sigv4::parse_amz_date) {
        let age_ms = (now - signed).whole_milliseconds().max(0);
        cx.set("s3:signatureAge", age_ms.to_string());
    }

    // Tags the request asks to set (`x-amz-tagging: k=v&k2=v2`).
    if let Some(tagging) = header(inp.headers, "x-amz-tagging") {
        let mut keys = Vec::new();
        for pair in tagging.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode_str(k).decode_utf8_lossy().into_owned();
            let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
            cx.set(&format!("s3:RequestObjectTag/{k}"), v);
            keys.push(k);
        }
        cx.set_all("s3:RequestObjectTagKeys", keys);
    }
    cx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ConnInfo;
    use std::sync::Arc;

    fn plain_from(peer: &str) -> RequestContext {
        RequestContext::new(Arc::new(ConnInfo {
            remote: format!("{peer}:40000").parse().unwrap(),
            local: "127.0.0.1:9080".parse().unwrap(),
            tls: None,
            loopback_console: false,
            client: crate::clients::Client::unlimited(),
        }))
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        // From a trusted proxy: the first untrusted hop from the right is the client, and
        // the proxy's word on TLS counts. The left-most entry is the client's own claim.
        let (secure, ip) = transport(Some(&plain_from("10.0.0.1")), &h, &trusted);
        assert!(secure);
        assert_eq!(ip, Some("203.0.113.7".parse().unwrap()));
        // From anyone else the headers are ignored.
        let (secure, ip) = transport(Some(&plain_from("198.51.100.1")), &h, &trusted);
        assert!(!secure);
        assert_eq!(ip, Some("198.51.100.1".parse().unwrap()));
        let (secure, ip) = transport(Some(&plain_from("10.0.0.1")), &h, &[]);
        assert!(!secure);
        assert_eq!(ip, Some("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn amz_dates_and_queries_parse() {
        let t = crate::sigv4::parse_amz_date("20261127T210000Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_795_813_200);
        let uri: Uri = "/b?prefix=a%2Fb&max-keys=5&list-type=2".parse().unwrap();
        assert_eq!(
            query_pairs(&uri),
            [
                ("prefix".to_string(), "a/b".to_string()),
                ("max-keys".into(), "5".into()),
                ("list-type".into(), "2".into())
            ]
        );
    }
}
