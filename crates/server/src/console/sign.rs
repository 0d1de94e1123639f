//! The console is an S3 client of its own server: it signs what the signed-in browser asks
//! for with that browser's key (SigV4 in a header, a presigned GET, a POST policy), so every
//! request goes through the same authentication and access control as any other client's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use percent_encoding::utf8_percent_encode;
use s3s_sigv4::{AmzDate, Payload};

use crate::sigv4::PATH;

/// What signs: one key, one region, at one time.
pub struct Signer<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret: &'a str,
    /// The region of the scope.
    pub region: &'a str,
    /// Seconds since the epoch (the server's clock).
    pub now_secs: i64,
}

/// The query parameter of the console's `/s3/<bucket>` gateway that carries an object key
/// (never the path: a browser resolves `.` and `..` in it); removed before S3 sees the request.
pub const KEY_PARAM: &str = "leadshop-key";

/// The gateway URL of a presigned request for `key` in `bucket`: the bucket in the path, the
/// key in [`KEY_PARAM`], then the presigned query.
#[must_use]
pub fn gateway_url(bucket: &str, key: &str, presigned_query: &str) -> String {
    let key = utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "/s3/{}?{KEY_PARAM}={key}&{presigned_query}",
        encode_path(bucket)
    )
}

/// The characters escaped in a query name or value: all but RFC 3986 unreserved.
const QUERY: &percent_encoding::AsciiSet = &PATH.add(b'/');

/// A path (`/bucket/key`, decoded) as SigV4 and s3s canonicalise it.
#[must_use]
pub fn encode_path(decoded: &str) -> String {
    utf8_percent_encode(decoded, PATH).to_string()
}

/// Query pairs as a canonical, escaped query string.
#[must_use]
pub fn encode_query(pairs: &[(String, String)]) -> String {
    let mut enc: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, QUERY),
                utf8_percent_encode(v, QUERY)
            )
        })
        .collect();
    enc.sort();
    enc.join("&")
}

impl Signer<'_> {
    fn date(&self) -> (AmzDate, String) {
        let t = time::OffsetDateTime::from_unix_timestamp(self.now_secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let text = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        (AmzDate::parse(&text).expect("formatted as AmzDate"), text)
    }

    fn scope(&self, date: &AmzDate) -> String {
        format!("{}/{}/s3/aws4_request", date.fmt_date(), self.region)
    }

    /// Signs a request in place: adds `x-amz-date`, `x-amz-content-sha256: UNSIGNED-PAYLOAD`
    /// and `Authorization`, signing `host`, `content-md5`, `content-type` and every `x-amz-*`
    /// header. `path` is decoded; `query` the decoded pairs of the request.
    pub fn sign_headers(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &mut HeaderMap,
    ) {
        let (date, text) = self.date();
        headers.insert("x-amz-date", HeaderValue::from_str(&text).expect("ascii"));
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let mut names: Vec<String> = headers
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| {
                k == "host" || k == "content-md5" || k == "content-type" || k.starts_with("x-amz-")
            })
            .collect();
        names.sort();
        names.dedup();
        let pairs: Vec<(&str, &str)> = names
            .iter()
            .flat_map(|n| {
                headers
                    .get_all(n.as_str())
                    .iter()
                    .filter_map(move |v| Some((n.as_str(), v.to_str().ok()?)))
            })
            .collect();
        let canonical =
            s3s_sigv4::create_canonical_request(method, path, query, &pairs, Payload::Unsigned);
        let signature = crate::sigv4::signature(&canonical, &date, self.region, "s3", self.secret);
        let value = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
            self.access_key_id,
            self.scope(&date),
            names.join(";"),
            signature
        );
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&value).expect("ascii"),
        );
    }

    /// A presigned GET of `path` (decoded) at `host`, valid `expires` seconds: the escaped
    /// path and query to append to the endpoint.
    #[must_use]
    pub fn presign_get(
        &self,
        host: &str,
        path: &str,
        extra: &[(String, String)],
        expires: u32,
    ) -> String {
        let (date, text) = self.date();
        let mut query: Vec<(String, String)> = extra.to_vec();
        query.extend([
            ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
            (
                "X-Amz-Credential".into(),
                format!("{}/{}", self.access_key_id, self.scope(&date)),
            ),
            ("X-Amz-Date".into(), text),
            ("X-Amz-Expires".into(), expires.to_string()),
            ("X-Amz-SignedHeaders".into(), "host".into()),
        ]);
        let canonical =
            s3s_sigv4::create_presigned_canonical_request("GET", path, &query, [("host", host)]);
        let signature = crate::sigv4::signature(&canonical, &date, self.region, "s3", self.secret);
        query.push(("X-Amz-Signature".into(), signature));
        format!("{}?{}", encode_path(path), encode_query(&query))
    }

    /// The fields of a POST upload of exactly `key` into `bucket`, valid `expires` seconds,
    /// of at most `max_size` bytes, with this `Content-Type` (if any).
    #[must_use]
    pub fn post_form(
        &self,
        bucket: &str,
        key: &str,
        content_type: Option<&str>,
        max_size: u64,
        expires: u32,
    ) -> Vec<(String, String)> {
        let (date, text) = self.date();
        let credential = format!("{}/{}", self.access_key_id, self.scope(&date));
        let expiration =
            time::OffsetDateTime::from_unix_timestamp(self.now_secs + i64::from(expires))
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        let mut conditions = vec![
            serde_json::json!({ "bucket": bucket }),
            serde_json::json!(["eq", "$key", key]),
            serde_json::json!(["content-length-range", 0, max_size]),
            serde_json::json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
            serde_json::json!({ "x-amz-credential": credential }),
            serde_json::json!({ "x-amz-date": text }),
        ];
        if let Some(ct) = content_type {
            conditions.push(serde_json::json!(["eq", "$Content-Type", ct]));
        }
        let policy = serde_json::json!({ "expiration": expiration, "conditions": conditions });
        let policy = STANDARD.encode(policy.to_string());
        let key_bytes = s3s_sigv4::derive_signing_key(self.secret, &date, self.region, "s3");
        let signature = hex::encode(s3s_sigv4::calculate_signature_with_key(&policy, &key_bytes));
        let mut fields = vec![
            ("key".to_string(), key.to_string()),
            ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
            ("x-amz-credential".into(), credential),
            ("x-amz-date".into(), text),
            ("policy".into(), policy),
            ("x-amz-signature".into(), signature),
        ];
        if let Some(ct) = content_type {
            fields.push(("Content-Type".into(), ct.to_string()));
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "GET Object" of the SigV4 documentation for S3
    /// (examplebucket, `/test.txt`, a Range header) — here the presigned variant, whose
    /// expected signature AWS also publishes.
    #[test]
    fn presigned_get_matches_aws_example() {
        let s = Signer {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
            now_secs: 1_369_353_600, // 20130524T000000Z
        };
        let url = s.presign_get("examplebucket.s3.amazonaws.com", "/test.txt", &[], 86400);
        assert!(
            url.contains(
                "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&"
            ),
            "{url}"
        );
        assert!(url.starts_with("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"));
    }

    #[test]
    fn paths_and_queries_are_escaped_as_sigv4_wants() {
        assert_eq!(encode_path("/b/a b/ü+~"), "/b/a%20b/%C3%BC%2B~");
        assert_eq!(
            encode_query(&[
                ("versions".into(), String::new()),
                ("prefix".into(), "a/b c".into())
            ]),
            "prefix=a%2Fb%20c&versions="
        );
    }
}
