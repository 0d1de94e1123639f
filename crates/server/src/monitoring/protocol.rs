//! The three wire protocols CloudWatch clients speak, to and from protocol-neutral JSON
//! values: Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/operation/<Op>`),
//! AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`; botocore's default in
//! 1.43), and the AWS query protocol (a form with `Action=<Op>`, answered in XML).

use std::fmt::Write as _;

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value};

use leadshop_spec::{ErrorCode, Refusal};

use crate::xml::escape;

use super::{bounds, cbor};

/// CloudWatch's Smithy service name (the JSON target prefix and the CBOR path).
pub const SERVICE: &str = "GraniteServiceVersion20100801";
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

/// How a request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Smithy RPC v2 CBOR.
    Cbor,
    /// AWS JSON 1.0.
    Json,
    /// AWS query (form in, XML out).
    Query,
}

/// The protocol of a CloudWatch request and the operation its headers or path name (the
/// query protocol names it in the body).
#[must_use]
pub fn detect(parts: &http::request::Parts) -> Option<(Protocol, Option<String>)> {
    let h = &parts.headers;
    if let Some(op) = parts
        .uri
        .path()
        .strip_prefix("/service/")
        .and_then(|p| p.strip_prefix(SERVICE))
        .and_then(|p| p.strip_prefix("/operation/"))
    {
        return Some((Protocol::Cbor, Some(op.to_string())));
    }
    if let Some(op) = h
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(SERVICE))
        .and_then(|t| t.strip_prefix('.'))
    {
        return Some((Protocol::Json, Some(op.to_string())));
    }
    let scoped = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/monitoring/aws4_request"));
    let form = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    (scoped && form && parts.method == http::Method::POST).then_some((Protocol::Query, None))
}

/// The input of a request (for the query protocol, without its `Action`, which
/// [`bounds::query_action`] finds before anything is built). Every decoder is bounded in depth
/// and in the values it makes ([`bounds`]).
///
/// # Errors
/// A body that does not parse or exceeds the bounds: `SerializationException` /
/// `MalformedQueryString`.
pub fn decode(protocol: Protocol, body: &[u8]) -> Result<Value, Refusal> {
    match protocol {
        Protocol::Cbor => cbor::decode(body)
            .map_err(|e| Refusal::new(ErrorCode::SerializationException, e.to_string())),
        Protocol::Json => {
            if body.is_empty() {
                return Ok(Value::Object(Map::new()));
            }
            bounds::check_json(body)?;
            serde_json::from_slice(body)
                .map_err(|e| Refusal::new(ErrorCode::SerializationException, e.to_string()))
        }
        Protocol::Query => bounds::decode_query(body),
    }
}

fn is_timestamp(key: &str) -> bool {
    matches!(key, "Timestamp" | "Timestamps")
}

fn iso(secs: f64) -> String {
    iso_ms((secs * 1000.0).round() as i64)
}

/// `2026-12-01T04:00:00.000Z`.
#[must_use]
pub fn iso_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        ms.rem_euclid(1000)
    )
}

fn xml(out: &mut String, v: &Value, timestamp: bool) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if timestamp => out.push_str(&iso(n.as_f64().unwrap_or(0.0))),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => out.push_str(&escape(s)),
        Value::Array(a) => {
            for item in a {
                out.push_str("<member>");
                xml(out, item, timestamp);
                out.push_str("</member>");
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let _ = write!(out, "<{k}>");
                xml(out, item, is_timestamp(k));
                let _ = write!(out, "</{k}>");
            }
        }
    }
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
    id: &str,
) -> Response<s3s::Body> {
    let mut resp = Response::new(s3s::Body::from(bytes::Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("static"),
    );
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// A successful answer to `operation`.
#[must_use]
pub fn ok(protocol: Protocol, operation: &str, output: &Value, id: &str) -> Response<s3s::Body> {
    match protocol {
        Protocol::Json => response(
            StatusCode::OK,
            "application/x-amz-json-1.0",
            serde_json::to_vec(output).expect("serialisable"),
            id,
        ),
        Protocol::Cbor => {
            let mut r = response(
                StatusCode::OK,
                "application/cbor",
                cbor::encode(output, &is_timestamp),
                id,
            );
            r.headers_mut()
                .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
            r
        }
        Protocol::Query => {
            let mut body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><{operation}Response xmlns=\"{XMLNS}\"><{operation}Result>"
            );
            xml(&mut body, output, false);
            let _ = write!(
                body,
                "</{operation}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{operation}Response>",
                escape(id)
            );
            response(StatusCode::OK, "text/xml", body.into_bytes(), id)
        }
    }
}

/// An error answer.
#[must_use]
pub fn error(protocol: Protocol, e: &Refusal, id: &str) -> Response<s3s::Body> {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let mut resp = match protocol {
        Protocol::Json | Protocol::Cbor => {
            let body = serde_json::json!({"__type": e.code.as_str(), "message": e.message});
            let mut r = if protocol == Protocol::Json {
                response(
                    status,
                    "application/x-amz-json-1.0",
                    serde_json::to_vec(&body).expect("serialisable"),
                    id,
                )
            } else {
                let mut r = response(
                    status,
                    "application/cbor",
                    cbor::encode(&body, &|_| false),
                    id,
                );
                r.headers_mut()
                    .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
                r
            };
            // The code a query-protocol client would see (CloudWatch is awsQueryCompatible).
            if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", e.code)) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            r
        }
        Protocol::Query => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                escape(e.code.as_str()),
                escape(&e.message),
                escape(id)
            );
            response(status, "text/xml", body.into_bytes(), id)
        }
    };
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_forms_become_nested_values() {
        let body: &[u8] =
            b"Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FS3&Dimensions.member.1.Name=BucketName&Dimensions.member.1.Value=b&Dimensions.member.2.Name=StorageType&Dimensions.member.2.Value=StandardStorage&Statistics.member.1=Average&Period=86400";
        let v = decode(Protocol::Query, body).unwrap();
        assert_eq!(
            bounds::query_action(body).as_deref(),
            Some("GetMetricStatistics")
        );
        assert_eq!(
            v,
            json!({"Namespace": "AWS/S3", "Period": "86400", "Statistics": ["Average"],
                "Dimensions": [{"Name": "BucketName", "Value": "b"},
                               {"Name": "StorageType", "Value": "StandardStorage"}]})
        );
        assert!(decode(Protocol::Query, b"A.member.x=1").is_err());
    }

    #[test]
    fn xml_answers_name_lists_members_and_format_timestamps() {
        let mut out = String::new();
        xml(
            &mut out,
            &json!({"Datapoints": [{"Timestamp": 1_700_000_000.0, "Average": 3.5}], "Label": "a<b"}),
            false,
        );
        assert_eq!(
            out,
            "<Datapoints><member><Average>3.5</Average><Timestamp>2023-11-14T22:13:20.000Z</Timestamp></member></Datapoints><Label>a&lt;b</Label>"
        );
    }
}
