//! One request as one line of AWS's server access log format: every field in AWS's order,
//! `-` where empty, the request line, referrer and user agent quoted, times as
//! `[06/Feb/2019:00:00:38 +0000]`, the key URL-encoded.

use std::fmt::Write as _;

use http::Method;
use leadshop_spec::Operation;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::events::RequestRecord;

/// What a key keeps unencoded in a log line (AWS: the key as URL-encoded; `/` stays).
const KEY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'+')
    .add(b'&')
    .add(b'=');

/// What a quoted field cannot hold as itself: its quote, and control characters.
const QUOTED: &AsciiSet = &CONTROLS.add(b'"');

/// An unquoted field: no spaces, quotes or control characters.
const BARE: &AsciiSet = &CONTROLS.add(b' ').add(b'"');

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `[06/Feb/2019:00:00:38 +0000]`.
#[must_use]
pub fn time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "[{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000]",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The operation as AWS logs it: `REST.<method>.<resource>` (`REST.PUT.OBJECT`,
/// `REST.GET.BUCKET`, `REST.POST.UPLOADS`, …), the resource from the operation's descriptor;
/// copies are `REST.COPY.…`.
#[must_use]
pub fn operation(op: Option<Operation>, method: &Method, bucket: bool, key: bool) -> String {
    if method == Method::OPTIONS {
        return "REST.OPTIONS.PREFLIGHT".into();
    }
    let resource = match op.map(Operation::describe) {
        Some(d) if d.logged_as_copy => return format!("REST.COPY.{}", d.log_resource),
        Some(d) => d.log_resource,
        // Refused before it was known: what the path names.
        None if key => "OBJECT",
        None if bucket => "BUCKET",
        None => "SERVICE",
    };
    format!("REST.{}.{resource}", method.as_str().to_ascii_uppercase())
}

fn bare(out: &mut String, v: Option<&str>) {
    out.push(' ');
    match v {
        Some(v) if !v.is_empty() => {
            let _ = write!(out, "{}", utf8_percent_encode(v, BARE));
        }
        _ => out.push('-'),
    }
}

fn quoted(out: &mut String, v: Option<&str>) {
    out.push(' ');
    match v {
        Some(v) if !v.is_empty() => {
            let _ = write!(out, "\"{}\"", utf8_percent_encode(v, QUOTED));
        }
        // AWS writes an absent referrer or user agent as "-", quoted.
        _ => out.push_str("\"-\""),
    }
}

fn number(out: &mut String, v: Option<u64>) {
    out.push(' ');
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push('-'),
    }
}

/// The log line of one request to a bucket owned by `owner` (a canonical user id), without
/// its newline.
#[must_use]
pub fn line(r: &RequestRecord, owner: &str) -> String {
    line_with(r, owner, true)
}

/// The line of a response whose body has only begun: bytes sent and total time are not
/// known yet (`-`).
#[must_use]
pub fn started_line(r: &RequestRecord, owner: &str) -> String {
    line_with(r, owner, false)
}

fn line_with(r: &RequestRecord, owner: &str, finished: bool) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(owner);
    bare(&mut out, r.bucket.as_deref());
    out.push(' ');
    out.push_str(&time(r.time_ms));
    bare(&mut out, r.remote_ip.map(|ip| ip.to_string()).as_deref());
    bare(&mut out, r.principal.as_deref());
    bare(&mut out, Some(&r.request_id));
    bare(
        &mut out,
        Some(&operation(
            r.operation,
            &r.method,
            r.bucket.is_some(),
            r.key.is_some(),
        )),
    );
    out.push(' ');
    match &r.key {
        Some(k) if !k.is_empty() => {
            let _ = write!(out, "{}", utf8_percent_encode(k, KEY));
        }
        _ => out.push('-'),
    }
    quoted(
        &mut out,
        Some(&format!("{} {} {}", r.method, r.uri, r.http_version)),
    );
    number(&mut out, Some(u64::from(r.status)));
    bare(&mut out, r.error_code.as_deref());
    // Bytes sent: `-` when none.
    number(&mut out, Some(r.bytes_out).filter(|&n| n > 0 && finished));
    number(&mut out, r.object_size);
    number(&mut out, finished.then(|| duration_ms(r.total_time)));
    number(&mut out, Some(duration_ms(r.first_byte_time)));
    quoted(&mut out, r.referer.as_deref());
    quoted(&mut out, r.user_agent.as_deref());
    bare(&mut out, r.version_id.as_deref());
    // Host id: AWS's x-amz-id-2, which leadshop sets to the request id.
    bare(&mut out, Some(&r.request_id));
    bare(&mut out, r.signature_version);
    bare(&mut out, r.tls_cipher.as_deref());
    bare(&mut out, r.auth_type);
    bare(&mut out, r.host.as_deref());
    bare(&mut out, r.tls_version.as_deref());
    // Access point ARN, aclRequired, source region: leadshop has no access points, decides
    // no request by ACL alone, and serves one region.
    bare(&mut out, None);
    bare(&mut out, None);
    bare(&mut out, None);
    out
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_line_has_every_field_in_aws_order() {
        let r = RequestRecord {
            request_id: "18B2A4F0C0FFEE00".into(),
            // 2019-02-06T00:00:38Z
            time_ms: 1_549_411_238_123,
            operation: Some(Operation::PutObject),
            method: Method::PUT,
            uri: "/leadshop-assets/reports/a%20b.pdf?x-id=PutObject".into(),
            http_version: "HTTP/1.1",
            bucket: Some("leadshop-assets".into()),
            key: Some("reports/a b.pdf".into()),
            principal: Some("arn:aws:iam::000000000000:user/app".into()),
            status: 200,
            bytes_in: 10,
            object_size: Some(10),
            version_id: Some("v1".into()),
            total_time: Duration::from_millis(12),
            first_byte_time: Duration::from_millis(11),
            remote_ip: Some("127.0.0.1".parse().unwrap()),
            user_agent: Some("Boto3/1.43 \"quoted\"".into()),
            signature_version: Some("SigV4"),
            auth_type: Some("AuthHeader"),
            tls_version: Some("TLSv1.3".into()),
            tls_cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
            host: Some("127.0.0.1:9443".into()),
            ..RequestRecord::default()
        };
        assert_eq!(
            line(&r, "owner"),
            "owner leadshop-assets [06/Feb/2019:00:00:38 +0000] 127.0.0.1 \
             arn:aws:iam::000000000000:user/app 18B2A4F0C0FFEE00 REST.PUT.OBJECT \
             reports/a%20b.pdf \"PUT /leadshop-assets/reports/a%20b.pdf?x-id=PutObject HTTP/1.1\" \
             200 - - 10 12 11 \"-\" \"Boto3/1.43 %22quoted%22\" v1 18B2A4F0C0FFEE00 SigV4 \
             TLS13_AES_256_GCM_SHA384 AuthHeader 127.0.0.1:9443 TLSv1.3 - - -"
        );
        let refused = RequestRecord {
            method: Method::GET,
            uri: "/b/k".into(),
            http_version: "HTTP/1.1",
            bucket: Some("b".into()),
            key: Some("k".into()),
            status: 403,
            error_code: Some("SignatureDoesNotMatch".into()),
            ..RequestRecord::default()
        };
        let l = line(&refused, "o");
        assert!(
            l.contains(" - REST.GET.OBJECT k \"GET /b/k HTTP/1.1\" 403 SignatureDoesNotMatch - - 0 0 \"-\" \"-\" - "),
            "{l}"
        );
    }

    #[test]
    fn operations_are_named_as_aws_names_them() {
        assert_eq!(
            operation(
                Some(Operation::CompleteMultipartUpload),
                &Method::POST,
                true,
                true
            ),
            "REST.POST.UPLOAD"
        );
        assert_eq!(
            operation(Some(Operation::ListObjectsV2), &Method::GET, true, false),
            "REST.GET.BUCKET"
        );
        assert_eq!(
            operation(Some(Operation::DeleteObjects), &Method::POST, true, false),
            "REST.POST.MULTI_OBJECT_DELETE"
        );
        assert_eq!(
            operation(None, &Method::GET, false, false),
            "REST.GET.SERVICE"
        );
        // As AWS's logs name them (REST.GET.POLICY_STATUS, REST.PUT.METRICS): these two were
        // BUCKETPOLICYSTATUS and METRICS_CONFIGURATION before the operation descriptors.
        assert_eq!(
            operation(
                Some(Operation::GetBucketPolicyStatus),
                &Method::GET,
                true,
                false
            ),
            "REST.GET.POLICY_STATUS"
        );
        assert_eq!(
            operation(
                Some(Operation::PutBucketMetricsConfiguration),
                &Method::PUT,
                true,
                false
            ),
            "REST.PUT.METRICS"
        );
        assert_eq!(
            operation(Some(Operation::CopyObject), &Method::PUT, true, true),
            "REST.COPY.OBJECT"
        );
        assert_eq!(
            operation(Some(Operation::UploadPartCopy), &Method::PUT, true, true),
            "REST.COPY.PART"
        );
    }
}
