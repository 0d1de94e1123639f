//! SigV4, once: the pieces the S3 shell (`shell::resign`), the CloudWatch endpoint
//! (`monitoring`), the access hook and the console's signer share, over s3s-sigv4's
//! canonicalisation (the one s3s itself verifies with): the path escaping, the signed
//! headers' values as s3s collects them, the signature of a canonical request, the
//! `X-Amz-Date` form, and a comparison that does not stop at the first difference.

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use s3s_sigv4::AmzDate;

/// The characters SigV4 leaves unescaped in a path (RFC 3986 unreserved, and `/`).
pub(crate) const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The signature of a canonical request: its string to sign for `date`, `region` and
/// `service`, signed with a key derived from `secret`.
pub(crate) fn signature(
    canonical: &str,
    date: &AmzDate,
    region: &str,
    service: &str,
    secret: impl AsRef<[u8]>,
) -> String {
    let sts = s3s_sigv4::create_string_to_sign(canonical, date, region, service);
    s3s_sigv4::calculate_signature(&sts, secret, date, region, service)
}

/// An `X-Amz-Date` (`20261130T120000Z`) as a UTC time.
pub(crate) fn parse_amz_date(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The values of the signed headers, as s3s collects them (every value of a repeated header,
/// in order, as UTF-8); `None` if one is missing or not UTF-8.
pub(crate) fn header_pairs<'h>(
    headers: &'h HeaderMap,
    names: &[&'h str],
) -> Option<Vec<(&'h str, &'h str)>> {
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let mut any = false;
        for v in headers.get_all(name) {
            out.push((name, std::str::from_utf8(v.as_bytes()).ok()?));
            any = true;
        }
        if !any {
            return None;
        }
    }
    Some(out)
}

/// Compares two signatures without stopping at the first difference.
pub(crate) fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase()))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_compare_without_case_of_the_sent_one() {
        assert!(constant_eq("abc1", "ABC1"));
        assert!(!constant_eq("abc1", "abc2"));
        assert!(!constant_eq("abc", "abc1"));
    }

    #[test]
    fn amz_dates_parse_as_utc() {
        let t = parse_amz_date("20261130T120000Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_796_040_000);
        assert!(parse_amz_date("2026-11-30T12:00:00Z").is_none());
    }
}
