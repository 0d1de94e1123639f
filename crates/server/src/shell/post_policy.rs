//! The conditions of a POST upload's policy, checked by the shell on the form's fields before
//! s3s reads the file, with the errors AWS gives (s3s checks them too, in its own words):
//!
//! - the policy's `expiration` passed, on the server's clock: 403 AccessDenied
//!   `Invalid according to Policy: Policy expired.`
//! - an `eq` or `starts-with` condition (`{"acl": "private"}` is `["eq", "$acl", "private"]`)
//!   that the form does not meet, a field missing included: 403 AccessDenied
//!   `Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a.png"]`
//! - a form field no condition names (all but `policy`, `x-amz-signature`, `file`, `x-ignore-*`
//!   and SigV2's `awsaccesskeyid`/`signature`): 403 AccessDenied
//!   `Invalid according to Policy: Extra input fields: <name>`
//! - a condition S3 cannot read (unknown operator, wrong arity, a name without `$`): 400
//!   InvalidPolicyDocument.
//!
//! Field names compare without case, values exactly; `bucket` is the bucket the request is
//! sent to and `key` has `${filename}` filled in. `content-length-range` needs the file's
//! size: s3s enforces it while it reads the file (EntityTooLarge / EntityTooSmall). A policy
//! that cannot be decoded at all is left to s3s, which refuses it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use leadshop_spec::{ErrorCode, Refusal};

use super::post_form::PostForm;

fn denied(message: String) -> Refusal {
    Refusal::new(
        ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {message}"),
    )
}

fn invalid(message: &str) -> Refusal {
    Refusal::new(
        ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {message}"),
    )
}

/// Fields every form may carry without a condition.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "file" | "awsaccesskeyid" | "signature"
    ) || name.starts_with("x-ignore-")
}

/// One condition as AWS prints it: `["eq", "$key", "a.png"]`.
fn show(op: &str, field: &str, value: &str) -> String {
    let q = |s: &str| Value::String(s.to_string()).to_string();
    format!("[{}, {}, {}]", q(op), q(&format!("${field}")), q(value))
}

/// Checks the form against its policy (see the module docs); `now_secs` is the server's clock.
///
/// # Errors
/// The [`Refusal`] AWS would answer.
pub fn check(form: &PostForm, bucket: &str, now_secs: i64) -> Result<(), Refusal> {
    let Some(policy) = form.get("policy") else {
        return Ok(()); // An anonymous form: the bucket policy decides.
    };
    let Some(doc) = STANDARD
        .decode(policy.trim())
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Ok(()); // s3s refuses what it cannot decode.
    };
    if let Some(exp) = doc.get("expiration").and_then(Value::as_str)
        && let Ok(t) =
            time::OffsetDateTime::parse(exp, &time::format_description::well_known::Rfc3339)
        && now_secs >= t.unix_timestamp()
    {
        return Err(denied("Policy expired.".into()));
    }
    let Some(conditions) = doc.get("conditions").and_then(Value::as_array) else {
        return Err(invalid("Policy has no conditions."));
    };
    let value_of = |field: &str| -> Option<String> {
        match field {
            "bucket" => Some(bucket.to_string()),
            "key" => form
                .get("key")
                .map(|k| k.replace("${filename}", form.file_name.as_deref().unwrap_or_default())),
            f => form.get(f).map(str::to_string),
        }
    };
    let mut covered: Vec<String> = Vec::new();
    for c in conditions {
        let (op, field, expected) = match c {
            Value::Object(map) => {
                if map.len() != 1 {
                    return Err(invalid("a condition object must hold exactly one field."));
                }
                let (k, v) = map.iter().next().expect("one entry");
                let Some(v) = v.as_str() else {
                    return Err(invalid("a condition's value must be a string."));
                };
                ("eq", k.to_ascii_lowercase(), v.to_string())
            }
            Value::Array(items) => {
                let op = items.first().and_then(Value::as_str).unwrap_or_default();
                let op = op.to_ascii_lowercase();
                if op == "content-length-range" {
                    let ok = items.len() == 3 && items[1..].iter().all(|n| n.as_u64().is_some());
                    if !ok {
                        return Err(invalid("content-length-range takes two integers."));
                    }
                    continue; // s3s enforces it on the file.
                }
                let (Some(field), Some(value), 3) = (
                    items.get(1).and_then(Value::as_str),
                    items.get(2).and_then(Value::as_str),
                    items.len(),
                ) else {
                    return Err(invalid(
                        "a condition takes an operator, a $field and a value.",
                    ));
                };
                let Some(field) = field.strip_prefix('$') else {
                    return Err(invalid("a condition's field must start with $."));
                };
                match op.as_str() {
                    "eq" => ("eq", field.to_ascii_lowercase(), value.to_string()),
                    "starts-with" => ("starts-with", field.to_ascii_lowercase(), value.to_string()),
                    _ => return Err(invalid("unknown condition operator.")),
                }
            }
            _ => return Err(invalid("a condition must be an object or an array.")),
        };
        let actual = value_of(&field);
        let holds = match (op, actual.as_deref()) {
            ("eq", Some(a)) => a == expected,
            ("starts-with", Some(a)) if field == "content-type" => a
                .split(',')
                .all(|part| part.trim().starts_with(expected.as_str())),
            ("starts-with", Some(a)) => a.starts_with(expected.as_str()),
            // A condition on a field the form lacks fails; `bucket` is always there.
            _ => false,
        };
        if !holds {
            let shown_field = match c {
                Value::Array(items) => items
                    .get(1)
                    .and_then(Value::as_str)
                    .map_or(field.clone(), |f| f.trim_start_matches('$').to_string()),
                Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
                _ => field.clone(),
            };
            return Err(denied(format!(
                "Policy Condition failed: {}",
                show(op, &shown_field, &expected)
            )));
        }
        covered.push(field);
    }
    if let Some((name, _)) = form
        .fields
        .iter()
        .find(|(n, _)| !exempt(n) && !covered.iter().any(|c| c == n))
    {
        return Err(denied(format!("Extra input fields: {name}")));
    }
    Ok(())
}

/// AWS's answer to a POST upload where s3s's differs: the 201 document names the object's
/// URL and the quoted ETag, the 303 redirect carries the quoted ETag, and a file outside
/// `content-length-range` is refused in AWS's words.
pub async fn finish(
    resp: http::Response<s3s::Body>,
    form: &PostForm,
    bucket: &str,
    request_id: &str,
) -> http::Response<s3s::Body> {
    use http::{HeaderValue, StatusCode, header};
    let etag = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    match resp.status() {
        StatusCode::CREATED => {
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let key = form
                .get("key")
                .unwrap_or_default()
                .replace("${filename}", form.file_name.as_deref().unwrap_or_default());
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                crate::xml::escape(location),
                crate::xml::escape(bucket),
                crate::xml::escape(&key),
                crate::xml::escape(&etag)
            );
            let (mut parts, _) = resp.into_parts();
            parts.headers.remove(header::CONTENT_LENGTH);
            http::Response::from_parts(parts, s3s::Body::from(xml))
        }
        StatusCode::SEE_OTHER => {
            let mut resp = resp;
            // s3s appends `etag=<hex>` last; AWS sends the ETag quoted, as in its header.
            let to = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.rsplit_once("etag="))
                .filter(|(_, v)| {
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
                })
                .map(|(head, v)| format!("{head}etag=%22{v}%22"));
            if let Some(v) = to.and_then(|t| HeaderValue::from_str(&t).ok()) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        StatusCode::BAD_REQUEST => {
            use http_body_util::BodyExt as _;
            let (parts, body) = resp.into_parts();
            let bytes = http_body_util::Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            let aws = if text.contains("<Code>EntityTooLarge</Code>") {
                Some((
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                ))
            } else if text.contains("<Code>EntityTooSmall</Code>") {
                Some((
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                ))
            } else {
                None
            };
            match aws {
                Some((code, message)) => {
                    super::errors::s3_error(StatusCode::BAD_REQUEST, code, message, request_id)
                }
                None => http::Response::from_parts(parts, s3s::Body::from(bytes)),
            }
        }
        _ => resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(policy: &Value, fields: &[(&str, &str)]) -> PostForm {
        let mut all = vec![("policy".to_string(), STANDARD.encode(policy.to_string()))];
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        PostForm {
            fields: all,
            file_name: Some("photo.png".into()),
        }
    }

    const NOW: i64 = 1_800_000_000; // 2027-01-15

    fn policy(conditions: Value) -> Value {
        serde_json::json!({ "expiration": "2027-02-01T00:00:00Z", "conditions": conditions })
    }

    #[test]
    fn a_form_meeting_every_condition_passes() {
        let p = policy(serde_json::json!([
            {"bucket": "b"},
            ["starts-with", "$key", "uploads/"],
            {"acl": "private"},
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 1, 1000],
        ]));
        let f = form(
            &p,
            &[
                ("key", "uploads/${filename}"),
                ("acl", "private"),
                ("content-type", "image/png"),
                ("x-amz-signature", "abc"),
                ("x-ignore-me", "1"),
            ],
        );
        assert_eq!(check(&f, "b", NOW), Ok(()));
    }

    #[test]
    fn each_broken_condition_gets_awss_words() {
        let p = policy(serde_json::json!([["eq", "$key", "a.png"], {"acl": "private"}]));
        let e = check(&form(&p, &[("key", "b.png"), ("acl", "private")]), "b", NOW).unwrap_err();
        assert_eq!(
            (e.code.status(), e.code.as_str(), e.message.as_str()),
            (
                403,
                "AccessDenied",
                r#"Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a.png"]"#
            )
        );
        let e = check(&form(&p, &[("key", "a.png")]), "b", NOW).unwrap_err();
        assert_eq!(
            e.message,
            r#"Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "private"]"#
        );
        let p = policy(serde_json::json!([{"bucket": "other"}]));
        assert!(
            check(&form(&p, &[]), "b", NOW)
                .unwrap_err()
                .message
                .contains(r#"["eq", "$bucket", "other"]"#)
        );
        let p = policy(serde_json::json!([["starts-with", "$key", "user/"]]));
        let e = check(&form(&p, &[("key", "admin/x")]), "b", NOW).unwrap_err();
        assert!(
            e.message.ends_with(r#"["starts-with", "$key", "user/"]"#),
            "{e:?}"
        );
    }

    #[test]
    fn extra_fields_and_expiry_are_refused() {
        let p = policy(serde_json::json!([["starts-with", "$key", ""]]));
        let e = check(
            &form(&p, &[("key", "k"), ("success_action_redirect", "http://x")]),
            "b",
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid according to Policy: Extra input fields: success_action_redirect"
        );
        let e = check(&form(&p, &[("key", "k")]), "b", 1_900_000_000).unwrap_err();
        assert_eq!(e.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn unreadable_conditions_are_invalid_documents() {
        for c in [
            serde_json::json!([["eq", "key", "x"]]),
            serde_json::json!([["matches", "$key", "x"]]),
            serde_json::json!([["eq", "$key"]]),
            serde_json::json!([["content-length-range", "1", 2]]),
            serde_json::json!([42]),
        ] {
            let e = check(&form(&policy(c.clone()), &[("key", "x")]), "b", NOW).unwrap_err();
            assert_eq!(
                (e.code.status(), e.code.as_str()),
                (400, "InvalidPolicyDocument"),
                "{c}"
            );
        }
    }
}
