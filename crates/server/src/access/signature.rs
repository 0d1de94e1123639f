//! Checks of the signature's shape that s3s leaves to us: what a SigV4 request signs, and the
//! time window of presigned URLs, on the server's clock.

use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::conditions;

/// SigV4 requests must sign `host` (else a signature could be replayed at another host), as
/// AWS requires: 403 "There were headers present in the request which were not signed".
pub(super) fn check_signed_headers(headers: &http::HeaderMap, uri: &http::Uri) -> S3Result<()> {
    let from_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("AWS4-HMAC-SHA256"))
        .and_then(|v| {
            v.split(',').find_map(|p| {
                p.trim()
                    .split_once("SignedHeaders=")
                    .map(|(_, h)| h.trim().to_string())
            })
        });
    let signed = from_header.or_else(|| {
        conditions::query_pairs(uri)
            .into_iter()
            .find(|(k, _)| k == "X-Amz-SignedHeaders")
            .map(|(_, v)| v)
    });
    if let Some(signed) = signed
        && !signed.split(';').any(|h| h.eq_ignore_ascii_case("host"))
    {
        return Err(s3_error!(
            AccessDenied,
            "There were headers present in the request which were not signed: host"
        ));
    }
    Ok(())
}

/// A presigned URL is refused once its time is past, on the server's clock (s3s checks the
/// same against the system time; the clock makes tests of expiry need no sleeping). A SigV2
/// URL carries only its expiry time, which may be at most `presigned_max_expires_secs` away,
/// the limit SigV4's `X-Amz-Expires` has.
pub(super) fn check_presigned_time(uri: &http::Uri, max_secs: u32, now_secs: i64) -> S3Result<()> {
    let query = conditions::query_pairs(uri);
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if q("X-Amz-Algorithm").is_some() {
        let signed = q("X-Amz-Date").and_then(parse_amz_date);
        let expires = q("X-Amz-Expires").and_then(|e| e.parse::<i64>().ok());
        if let (Some(signed), Some(expires)) = (signed, expires)
            && now_secs > signed.saturating_add(expires)
        {
            return Err(expired());
        }
        return Ok(()); // Malformed values are s3s's to refuse.
    }
    if q("Signature").is_none() || q("AWSAccessKeyId").is_none() {
        return Ok(());
    }
    let expires = q("Expires").and_then(|e| e.parse::<i64>().ok());
    match expires {
        Some(e) if now_secs > e => Err(expired()),
        Some(e) if e - now_secs <= i64::from(max_secs) => Ok(()),
        _ => Err(S3Error::with_message(
            S3ErrorCode::AuthorizationQueryParametersError,
            format!("Expires must be a time at most {max_secs} seconds from now"),
        )),
    }
}

fn expired() -> S3Error {
    s3_error!(AccessDenied, "Request has expired")
}

/// `X-Amz-Date` (`20261130T120000Z`) as seconds since the epoch.
fn parse_amz_date(v: &str) -> Option<i64> {
    crate::sigv4::parse_amz_date(v).map(time::OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(q: &str) -> http::Uri {
        format!("/b/k?{q}").parse().unwrap()
    }

    #[test]
    fn sigv4_presigned_expires_on_the_clock() {
        let u =
            uri("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261130T120000Z&X-Amz-Expires=60");
        let signed = parse_amz_date("20261130T120000Z").unwrap();
        assert!(check_presigned_time(&u, 604_800, signed + 60).is_ok());
        let err = check_presigned_time(&u, 604_800, signed + 61).unwrap_err();
        assert_eq!(*err.code(), S3ErrorCode::AccessDenied);
    }

    #[test]
    fn sigv2_presigned_window() {
        let u = uri("AWSAccessKeyId=AK&Signature=s&Expires=1000");
        assert!(check_presigned_time(&u, 600, 500).is_ok());
        assert_eq!(
            *check_presigned_time(&u, 600, 399).unwrap_err().code(),
            S3ErrorCode::AuthorizationQueryParametersError
        );
        assert_eq!(
            *check_presigned_time(&u, 600, 1001).unwrap_err().code(),
            S3ErrorCode::AccessDenied
        );
    }
}
