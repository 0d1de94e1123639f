//! SigV4 canonicalisation, and the shell's verify-and-re-sign of requests AWS accepts but s3s
//! would refuse (a path signed in another escaping, a Range S3 ignores). A request is made from
//! the fuzz input (method, raw path, query, Range), signed by its "client" over the path as
//! sent, optionally corrupted, and adjusted. Properties: never a panic; the key and the query
//! never change; a Range stays exactly when S3 honours it; a request the shell re-signed
//! verifies as s3s verifies it; a corrupted signature is never re-signed.
#![no_main]

use std::sync::{Arc, OnceLock};

use leadshop_keys::KeyStore;
use leadshop_server::shell::resign;
use leadshop_store::crypto::Key;
use leadshop_store::{MasterKey, MasterKeys};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

/// The key store, its directory (kept for the whole run), and the admin key.
type Keys = (tempfile::TempDir, Arc<KeyStore>, String, String);

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKeys::new(MasterKey {
            id: "mk-fuzz".into(),
            key: Key::from_bytes([7; 32]),
        });
        let store = Arc::new(KeyStore::open(dir.path(), master).unwrap());
        let admin = store.by_name("admin").unwrap();
        let (id, secret) = (admin.access_key_id.clone(), admin.secret_access_key.clone());
        (dir, store, id, secret)
    })
}

const DATE: &str = "20261130T120000Z";

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (flags, rest) = (data[0], &data[1..]);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut fields = text.splitn(3, '\n');
    let (Some(path), query, range) = (fields.next(), fields.next().unwrap_or(""), fields.next()) else {
        return;
    };
    let path = format!("/leadshop-assets/{}", path.trim_start_matches('/'));
    let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    // Only what goes on the wire as given (no fragment, nothing normalised away).
    if uri.path() != path
        || uri.query().unwrap_or("") != query
        || percent_decode_str(&path).decode_utf8().is_err()
    {
        return;
    }
    let method = if flags & 1 == 0 { "GET" } else { "PUT" };
    let (_, store, id, secret) = keys();
    let mut headers = vec![
        ("host".to_string(), "127.0.0.1:9443".to_string()),
        ("x-amz-content-sha256".to_string(), "UNSIGNED-PAYLOAD".to_string()),
        ("x-amz-date".to_string(), DATE.to_string()),
    ];
    if let Some(r) = range.filter(|r| http::HeaderValue::from_str(r).is_ok() && !r.is_empty()) {
        headers.push(("range".to_string(), r.to_string()));
    }
    headers.sort();
    let Ok(qs) = serde_urlencoded_pairs(query) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let date = s3s_sigv4::AmzDate::parse(DATE).unwrap();
    let canonical = s3s_sigv4::create_canonical_request_with_raw_uri_path(
        method,
        &path,
        &qs,
        &pairs,
        s3s_sigv4::Payload::Unsigned,
    );
    let sts = s3s_sigv4::create_string_to_sign(&canonical, &date, "us-east-1", "s3");
    let mut signature = s3s_sigv4::calculate_signature(&sts, secret, &date, "us-east-1", "s3");
    let corrupt = flags & 2 == 2;
    if corrupt {
        let flipped = if signature.starts_with('0') { "1" } else { "0" };
        signature.replace_range(0..1, flipped);
    }
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    req = req.header(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={id}/20261130/us-east-1/s3/aws4_request, SignedHeaders={}, Signature={signature}",
            names.join(";")
        ),
    );
    let Ok(req) = req.body(()) else {
        return;
    };
    let (mut parts, ()) = req.into_parts();
    let before_query = parts.uri.query().map(str::to_string);
    let adjusted = resign::adjust(&mut parts, store);

    assert_eq!(parts.uri.path(), path, "the key never changes");
    assert_eq!(parts.uri.query().map(str::to_string), before_query);
    if let Some(r) = range.filter(|_| headers.iter().any(|(k, _)| k == "range")) {
        let honoured = s3s::dto::Range::parse(r).is_ok();
        let kept = parts.headers.contains_key("range");
        if method == "GET" && !corrupt {
            assert_eq!(kept, honoured, "{r:?}");
        }
    }
    if corrupt {
        assert!(!adjusted.resigned, "a wrong signature was re-signed");
        return;
    }
    if adjusted.resigned {
        // s3s's first check: the decoded path, re-escaped, with the headers it now signs.
        let auth = parts.headers["authorization"].to_str().unwrap().to_string();
        let parsed = s3s_sigv4::AuthorizationV4::parse(&auth).unwrap();
        let now: Vec<(&str, &str)> = parsed
            .signed_headers
            .iter()
            .map(|n| (*n, std::str::from_utf8(parts.headers[*n].as_bytes()).unwrap()))
            .collect();
        let decoded = percent_decode_str(&path).decode_utf8().unwrap();
        let canonical =
            s3s_sigv4::create_canonical_request(method, &decoded, &qs, &now, s3s_sigv4::Payload::Unsigned);
        let sts = s3s_sigv4::create_string_to_sign(&canonical, &date, "us-east-1", "s3");
        assert_eq!(
            s3s_sigv4::calculate_signature(&sts, secret, &date, "us-east-1", "s3"),
            parsed.signature,
            "the re-signed request verifies as s3s verifies it"
        );
    }
});

/// The query as s3s reads it (form-urlencoded pairs).
fn serde_urlencoded_pairs(q: &str) -> Result<Vec<(String, String)>, ()> {
    serde_urlencoded::from_str(q).map_err(|_| ())
}
