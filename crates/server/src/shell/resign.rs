//! Requests AWS accepts that s3s would refuse, made acceptable before s3s sees them:
//!
//! - **A path whose signed form is not s3s's canonical one.** SigV4 signs the path as the
//!   client sent it (S3 never normalises it): a key `a/b` sent as `a%2Fb`, or lower-case hex
//!   escapes. s3s canonicalises the decoded path (`/` and unreserved characters unescaped,
//!   upper-case hex) and tries the raw path only when it holds unescaped reserved
//!   characters, so such a request fails with SignatureDoesNotMatch.
//! - **A SigV2 presigned URL for a bucket** (`/bucket?list-type=2&Signature=…`): AWS and
//!   botocore sign the bucket's resource as `/bucket/`, s3s the path as sent
//!   ([`sigv2_bucket_path`] adds the slash, which S3 routes the same).
//! - **A SigV4 request dated by a signed `Date` header** without `x-amz-date`, which AWS
//!   accepts and s3s does not: verified with that time, then signed again with the same
//!   time in an added `x-amz-date`.
//! - **A Range header S3 ignores.** S3 answers the whole object to a `Range` it does not
//!   understand (a second range, `bytes=5-2`, a unit other than `bytes`); s3s refuses it with
//!   400.
//!
//! An unsigned `Range` is simply dropped. Otherwise the signature is verified here over the
//! request exactly as sent — with the caller's secret, the s3s-sigv4 canonicalisation s3s
//! itself uses, and the raw path — and, only if it holds, the request is signed again with
//! the same secret, date and scope over what s3s will see (its canonical path, the Range
//! header removed from the request and from `SignedHeaders`). s3s then authenticates it as
//! usual. A signature that does not hold is left alone for s3s to refuse. Signed streaming
//! uploads (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD…`) chain every chunk signature to the
//! request's, so they cannot be re-signed: those keep s3s's behaviour.

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use s3s_sigv4::{AmzContentSha256, AmzDate, AuthorizationV4, Payload, PresignedUrlV4};

use leadshop_keys::KeyStore;

use crate::sigv4::{PATH, constant_eq, header_pairs, signature};

/// What was changed, for the request log and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Adjusted {
    /// An ignored `Range` header was removed.
    pub range_dropped: bool,
    /// The request was verified and signed again.
    pub resigned: bool,
}

/// A SigV2 presigned URL for a bucket-level operation, path style (`/bucket?…`): botocore,
/// like AWS, signs the bucket's canonical resource as `/bucket/`, and s3s signs the path as
/// sent. The path is given its trailing slash (which S3 routes the same), so both agree.
/// Returns whether the path changed.
pub fn sigv2_bucket_path(parts: &mut Parts, bucket: Option<&str>, names_key: bool) -> bool {
    let sigv2 = parts.uri.query().is_some_and(|q| {
        q.split('&').any(|p| p.starts_with("Signature="))
            && q.split('&').any(|p| p.starts_with("AWSAccessKeyId="))
    });
    let Some(bucket) = bucket else {
        return false;
    };
    if !sigv2 || names_key || parts.uri.path() != format!("/{bucket}") {
        return false;
    }
    let pq = match parts.uri.query() {
        Some(q) => format!("/{bucket}/?{q}"),
        None => format!("/{bucket}/"),
    };
    let mut uri = parts.uri.clone().into_parts();
    match pq.parse() {
        Ok(p) => uri.path_and_query = Some(p),
        Err(_) => return false,
    }
    match Uri::from_parts(uri) {
        Ok(u) => {
            parts.uri = u;
            true
        }
        Err(_) => false,
    }
}

/// Makes a request acceptable to s3s where AWS would accept it (see the module docs).
pub fn adjust(parts: &mut Parts, keys: &KeyStore) -> Adjusted {
    // HTTP/2 carries the host as :authority; SigV4 signs it as `host` (s3s does the same).
    if !parts.headers.contains_key(header::HOST)
        && parts.version == http::Version::HTTP_2
        && let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, v);
    }
    let drop_range = (parts.method == Method::GET || parts.method == Method::HEAD)
        && parts.headers.contains_key(header::RANGE)
        && range_is_ignored(&parts.headers);
    let Some(decoded) = percent_decode_str(parts.uri.path()).decode_utf8().ok() else {
        return Adjusted::default(); // s3s answers InvalidURI
    };
    let canonical_path = utf8_percent_encode(&decoded, PATH).to_string();
    let path_differs = canonical_path != parts.uri.path();
    let dated_by_date_header = signs_date_instead_of_amz_date(&parts.headers);
    if !drop_range && !path_differs && !dated_by_date_header {
        return Adjusted::default();
    }
    let signed = Signed::of(&parts.headers, &parts.uri);
    let range_signed = signed.as_ref().is_some_and(|s| {
        s.signed_headers()
            .iter()
            .any(|h| h.eq_ignore_ascii_case("range"))
    });
    let needs_resign = signed.is_some() && (path_differs || range_signed || dated_by_date_header);
    if needs_resign
        && let Some(s) = signed
        && let Some(resigned) = s.resign(parts, keys, &decoded, drop_range)
    {
        apply(parts, resigned);
        if drop_range {
            parts.headers.remove(header::RANGE);
        }
        return Adjusted {
            range_dropped: drop_range,
            resigned: true,
        };
    }
    // Unsigned (anonymous, SigV2, or a SigV4 request that does not sign it): the Range header
    // can go without touching the signature.
    if drop_range && !range_signed {
        parts.headers.remove(header::RANGE);
        return Adjusted {
            range_dropped: true,
            resigned: false,
        };
    }
    Adjusted::default()
}

/// Whether S3 would ignore the request's Range (it does not parse as one byte range).
#[must_use]
pub fn range_is_ignored(headers: &HeaderMap) -> bool {
    let mut all = headers.get_all(header::RANGE).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => {
            std::str::from_utf8(v.as_bytes()).map_or(true, |v| s3s::dto::Range::parse(v).is_err())
        }
        _ => true,
    }
}

/// A SigV4 signature found in the headers or the query.
enum Signed<'a> {
    Header {
        auth: AuthorizationV4<'a>,
        signed_headers: Vec<&'a str>,
    },
    Presigned {
        query: Vec<(String, String)>,
        signed_headers: Vec<String>,
    },
}

/// A new signature and the fields that change with it.
enum Resigned {
    /// The new `Authorization`, and the `x-amz-date` it signs when the request had only `Date`.
    Header(HeaderValue, Option<HeaderValue>),
    Query(String),
}

impl<'a> Signed<'a> {
    fn of(headers: &'a HeaderMap, uri: &Uri) -> Option<Self> {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let auth = AuthorizationV4::parse(v.to_str().ok()?).ok()?;
            let signed_headers = auth.signed_headers.clone();
            return Some(Self::Header {
                auth,
                signed_headers,
            });
        }
        let query = query_pairs(uri)?;
        let signed_headers = query
            .iter()
            .find(|(k, _)| k == "X-Amz-Signature")
            .and_then(|_| query.iter().find(|(k, _)| k == "X-Amz-SignedHeaders"))?
            .1
            .split(';')
            .map(str::to_string)
            .collect();
        Some(Self::Presigned {
            query,
            signed_headers,
        })
    }

    fn signed_headers(&self) -> Vec<&str> {
        match self {
            Self::Header { signed_headers, .. } => signed_headers.clone(),
            Self::Presigned { signed_headers, .. } => {
                signed_headers.iter().map(String::as_str).collect()
            }
        }
    }

    /// Verifies the signature over the request as sent; if it holds, signs what s3s will see.
    fn resign(
        &self,
        parts: &Parts,
        keys: &KeyStore,
        decoded_path: &str,
        drop_range: bool,
    ) -> Option<Resigned> {
        let method = parts.method.as_str();
        let raw_path = parts.uri.path();
        let names = self.signed_headers();
        let headers = header_pairs(&parts.headers, &names)?;
        let kept_names: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !(drop_range && n.eq_ignore_ascii_case("range")))
            .collect();
        let mut kept_headers = header_pairs(&parts.headers, &kept_names)?;
        match self {
            Self::Header { auth, .. } => {
                let cred = &auth.credential;
                let secret = keys.by_id(cred.access_key_id)?.secret_access_key.clone();
                // The request's time: `x-amz-date`, else the signed `Date` header.
                let (date, added_amz_date) = match parts.headers.get("x-amz-date") {
                    Some(v) => (AmzDate::parse(v.to_str().ok()?).ok()?, None),
                    None => {
                        let iso = amz_date_of_http_date(parts.headers.get(header::DATE)?)?;
                        (AmzDate::parse(&iso).ok()?, Some(iso))
                    }
                };
                // s3s reads the time from `x-amz-date` only: it is added, and signed.
                let mut kept_names = kept_names.clone();
                if let Some(iso) = &added_amz_date {
                    kept_names.push("x-amz-date");
                    kept_names.sort_unstable();
                    kept_headers.push(("x-amz-date", iso.as_str()));
                    kept_headers.sort_by(|a, b| a.0.cmp(b.0));
                }
                let sha = parts.headers.get("x-amz-content-sha256")?.to_str().ok()?;
                let hex_payload;
                let payload = match AmzContentSha256::parse(sha).ok()? {
                    AmzContentSha256::UnsignedPayload => Payload::Unsigned,
                    AmzContentSha256::StreamingUnsignedPayloadTrailer => {
                        Payload::UnsignedMultipleChunksWithTrailer
                    }
                    AmzContentSha256::SingleChunk(_) => {
                        hex_payload = sha.to_ascii_lowercase();
                        Payload::SingleChunk(&hex_payload)
                    }
                    // Chunk signatures chain from this one: it cannot change.
                    _ => return None,
                };
                let query = query_pairs(&parts.uri)?;
                let sign = |canonical: &str| {
                    signature(canonical, &date, cred.aws_region, cred.aws_service, &secret)
                };
                let sent = s3s_sigv4::create_canonical_request_with_raw_uri_path(
                    method, raw_path, &query, &headers, payload,
                );
                let as_s3s = s3s_sigv4::create_canonical_request(
                    method,
                    decoded_path,
                    &query,
                    &headers,
                    payload,
                );
                if !constant_eq(&sign(&sent), auth.signature)
                    && !constant_eq(&sign(&as_s3s), auth.signature)
                {
                    return None;
                }
                let canonical = s3s_sigv4::create_canonical_request(
                    method,
                    decoded_path,
                    &query,
                    &kept_headers,
                    payload,
                );
                let value = format!(
                    "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={}",
                    cred.access_key_id,
                    cred.date,
                    cred.aws_region,
                    cred.aws_service,
                    kept_names.join(";"),
                    sign(&canonical)
                );
                let value = HeaderValue::from_str(&value).ok()?;
                let amz_date = match added_amz_date {
                    Some(iso) => Some(HeaderValue::from_str(&iso).ok()?),
                    None => None,
                };
                Some(Resigned::Header(value, amz_date))
            }
            Self::Presigned { query, .. } => {
                // s3s checks the expiry itself; the limit here only has to let it parse.
                let url = PresignedUrlV4::parse(query, u32::MAX).ok()?;
                let cred = &url.credential;
                let secret = keys.by_id(cred.access_key_id)?.secret_access_key.clone();
                let sign = |canonical: &str| {
                    signature(
                        canonical,
                        &url.amz_date,
                        cred.aws_region,
                        cred.aws_service,
                        &secret,
                    )
                };
                let sent = s3s_sigv4::create_presigned_canonical_request_with_raw_uri_path(
                    method, raw_path, query, &headers,
                );
                let as_s3s = s3s_sigv4::create_presigned_canonical_request(
                    method,
                    decoded_path,
                    query,
                    &headers,
                );
                if !constant_eq(&sign(&sent), url.signature)
                    && !constant_eq(&sign(&as_s3s), url.signature)
                {
                    return None;
                }
                let kept = kept_names.join(";");
                let new_query: Vec<(String, String)> = query
                    .iter()
                    .map(|(k, v)| {
                        if k == "X-Amz-SignedHeaders" {
                            (k.clone(), kept.clone())
                        } else {
                            (k.clone(), v.clone())
                        }
                    })
                    .collect();
                let canonical = s3s_sigv4::create_presigned_canonical_request(
                    method,
                    decoded_path,
                    &new_query,
                    &kept_headers,
                );
                let signature = sign(&canonical);
                let encoded = new_query
                    .iter()
                    .map(|(k, v)| {
                        let v = if k == "X-Amz-Signature" {
                            &signature
                        } else {
                            v
                        };
                        format!(
                            "{}={}",
                            utf8_percent_encode(k, NON_ALPHANUMERIC),
                            utf8_percent_encode(v, NON_ALPHANUMERIC)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&");
                Some(Resigned::Query(encoded))
            }
        }
    }
}

fn apply(parts: &mut Parts, resigned: Resigned) {
    match resigned {
        Resigned::Header(v, amz_date) => {
            parts.headers.insert(header::AUTHORIZATION, v);
            if let Some(d) = amz_date {
                parts.headers.insert("x-amz-date", d);
            }
        }
        Resigned::Query(q) => {
            let pq = format!("{}?{q}", parts.uri.path());
            let mut uri = std::mem::take(&mut parts.uri).into_parts();
            if let Ok(pq) = pq.parse() {
                uri.path_and_query = Some(pq);
            }
            if let Ok(u) = Uri::from_parts(uri) {
                parts.uri = u;
            }
        }
    }
}

/// A SigV4 header-signed request that carries its time in a signed `Date` header and no
/// `x-amz-date`, which AWS accepts and s3s does not.
pub(crate) fn signs_date_instead_of_amz_date(headers: &HeaderMap) -> bool {
    !headers.contains_key("x-amz-date")
        && headers.contains_key(header::DATE)
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| AuthorizationV4::parse(v).ok())
            .is_some_and(|a| {
                a.signed_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case("date"))
            })
}

/// An HTTP date (`Mon, 30 Nov 2026 23:45:00 GMT`, RFC 9110's IMF-fixdate) as SigV4's
/// `20261130T234500Z`.
fn amz_date_of_http_date(v: &HeaderValue) -> Option<String> {
    let text = v.to_str().ok()?;
    let mut it = text.split_whitespace();
    let (_weekday, day, month, year, hms, zone) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if zone != "GMT" || it.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let day: u32 = day.parse().ok()?;
    let year: u32 = year.parse().ok()?;
    let mut t = hms.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || t.next().is_some() {
        return None;
    }
    Some(format!("{year:04}{month:02}{day:02}T{h:02}{m:02}{sec:02}Z"))
}

/// The query as s3s reads it: `application/x-www-form-urlencoded` pairs.
fn query_pairs(uri: &Uri) -> Option<Vec<(String, String)>> {
    match uri.query() {
        None => Some(Vec::new()),
        Some(q) => serde_urlencoded::from_str(q).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_become_amz_dates() {
        let d = |s: &str| amz_date_of_http_date(&HeaderValue::from_str(s).unwrap());
        assert_eq!(
            d("Mon, 30 Nov 2026 23:45:07 GMT").as_deref(),
            Some("20261130T234507Z")
        );
        for bad in [
            "Mon, 30 Nov 2026 23:45:07 +0000",
            "Mon, 30 Foo 2026 23:45:07 GMT",
            "Mon, 32 Nov 2026 23:45:07 GMT",
            "Mon, 30 Nov 2026 24:00:00 GMT",
            "Mon, 30 Nov 2026 23:45 GMT",
            "20261130T234507Z",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn sigv2_bucket_urls_get_the_slash_aws_signs() {
        let parts = |uri: &str| http::Request::get(uri).body(()).unwrap().into_parts().0;
        let mut p = parts("/b?list-type=2&AWSAccessKeyId=AK&Signature=x%2B&Expires=1");
        assert!(sigv2_bucket_path(&mut p, Some("b"), false));
        assert_eq!(
            p.uri.to_string(),
            "/b/?list-type=2&AWSAccessKeyId=AK&Signature=x%2B&Expires=1"
        );
        // Objects, SigV4, virtual-hosted keys and unsigned requests keep their path.
        for (uri, names_key) in [
            ("/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1", true),
            ("/b?X-Amz-Signature=x&X-Amz-Credential=c", false),
            ("/k?AWSAccessKeyId=AK&Signature=x&Expires=1", true),
            ("/b?list-type=2", false),
        ] {
            let mut p = parts(uri);
            assert!(!sigv2_bucket_path(&mut p, Some("b"), names_key), "{uri}");
            assert_eq!(p.uri.to_string(), uri);
        }
    }

    #[test]
    fn ranges_s3_ignores() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, v.parse().unwrap());
            m
        };
        for honoured in [
            "bytes=0-0",
            "bytes=5-",
            "bytes=-3",
            "bytes=0-9223372036854775807",
        ] {
            assert!(!range_is_ignored(&h(honoured)), "{honoured}");
        }
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=5-2",
            "items=0-1",
            "bytes=",
            "bytes=a-b",
            "0-1",
            // An end beyond 2^63: the whole object, where S3 would clamp it.
            "bytes=0-18446744073709551615",
        ] {
            assert!(range_is_ignored(&h(ignored)), "{ignored}");
        }
        let mut two = h("bytes=0-1");
        two.append(header::RANGE, "bytes=2-3".parse().unwrap());
        assert!(range_is_ignored(&two));
    }

    #[test]
    fn signatures_compare_case_insensitively_and_exactly() {
        assert!(constant_eq("abcdef", "ABCDEF"));
        assert!(!constant_eq("abcdef", "abcdee"));
        assert!(!constant_eq("abc", "abcd"));
    }
}
