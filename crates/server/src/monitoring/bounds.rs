//! What a CloudWatch request body may make the server build, whatever its protocol: every
//! decoder here is iterative or depth-limited, and counts the values it makes against one
//! budget, so a 1 MiB body never becomes more than a few MiB of parsed structure and never
//! recurses deeper than [`MAX_DEPTH`].
//!
//! - Query forms (`Dimensions.member.1.Name=…`) are read pair by pair without collecting
//!   them ([`query_action`] finds `Action` with no allocation at all, so the caller is
//!   authorised before anything is built) and inserted without recursion; `member.N` names
//!   the N-th item of a sparse list, never N pre-allocated slots.
//! - JSON is scanned once for its nesting and its number of values before serde_json builds
//!   anything.
//! - CBOR counts values as it decodes ([`super::cbor`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use leadshop_spec::{ErrorCode, Refusal};

/// The deepest nesting of any request: a query parameter's name may have at most this many
/// dot-separated segments, JSON and CBOR at most this many levels. CloudWatch's deepest
/// input (`MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value`) has 9.
pub const MAX_DEPTH: usize = 16;
/// The most values (parameters, list items, map entries) one request may make. GetMetricData
/// takes up to 500 queries of a few values each; this leaves room for that and bounds the
/// parsed structure to a few MiB.
pub const MAX_VALUES: usize = 20_000;
/// The highest `member.N` index (CloudWatch's lists are far shorter).
pub const MAX_MEMBER_INDEX: usize = 1_000;

fn malformed(message: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::MalformedQueryString, message)
}

/// The `Action` of a query-protocol form, found without building anything (the first one,
/// as AWS reads it).
#[must_use]
pub fn query_action(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
}

/// A value being built from a form: a leaf, a structure, or a sparse list.
enum Node {
    Empty,
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    /// Into JSON; lists keep their items in index order. Recursion is bounded by
    /// [`MAX_DEPTH`], which every insertion checked.
    fn into_value(self) -> Value {
        match self {
            Self::Empty => Value::Null,
            Self::Leaf(s) => Value::String(s),
            Self::Map(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect::<Map<_, _>>(),
            ),
            Self::List(l) => Value::Array(l.into_values().map(Self::into_value).collect()),
        }
    }
}

/// Sets one parameter (`Dimensions.member.1.Name`) in `root`, without recursion.
fn insert(
    root: &mut BTreeMap<String, Node>,
    name: &str,
    value: String,
    made: &mut usize,
) -> Result<(), Refusal> {
    let segments = name.split('.').count();
    if segments > MAX_DEPTH {
        return Err(malformed(format!(
            "The parameter name has {segments} segments; at most {MAX_DEPTH} are accepted."
        )));
    }
    let bad = || malformed(format!("The parameter name {name:.100} is malformed."));
    let mut parts = name.split('.');
    let first = parts.next().filter(|s| !s.is_empty() && *s != "member");
    let first = first.ok_or_else(bad)?;
    let mut node = root.entry(first.to_string()).or_insert(Node::Empty);
    *made += 1;
    while let Some(seg) = parts.next() {
        if seg.is_empty() {
            return Err(bad());
        }
        *made += 1;
        if seg == "member" {
            let index: usize = parts.next().and_then(|i| i.parse().ok()).ok_or_else(bad)?;
            if index == 0 || index > MAX_MEMBER_INDEX {
                return Err(bad());
            }
            if matches!(node, Node::Empty) {
                *node = Node::List(BTreeMap::new());
            }
            let Node::List(list) = node else {
                return Err(bad());
            };
            node = list.entry(index).or_insert(Node::Empty);
        } else {
            if matches!(node, Node::Empty) {
                *node = Node::Map(BTreeMap::new());
            }
            let Node::Map(map) = node else {
                return Err(bad());
            };
            node = map.entry(seg.to_string()).or_insert(Node::Empty);
        }
    }
    match node {
        Node::Empty | Node::Leaf(_) => {
            *node = Node::Leaf(value);
            Ok(())
        }
        // A name that is both a value and a structure (`A=1&A.B=2`).
        Node::Map(_) | Node::List(_) => Err(bad()),
    }
}

/// A query-protocol form as a JSON value (its `Action` and `Version` left out).
///
/// # Errors
/// `MalformedQueryString` for a malformed name, a name deeper than [`MAX_DEPTH`], or more
/// than [`MAX_VALUES`] values.
pub fn decode_query(body: &[u8]) -> Result<Value, Refusal> {
    let mut root = BTreeMap::new();
    let mut made = 0usize;
    for (i, (k, v)) in form_urlencoded::parse(body).enumerate() {
        if i >= MAX_VALUES || made > MAX_VALUES {
            return Err(malformed(format!(
                "The request has more than {MAX_VALUES} parameters or values."
            )));
        }
        match &*k {
            "Action" | "Version" => {}
            name => insert(&mut root, name, v.into_owned(), &mut made)?,
        }
    }
    if made > MAX_VALUES {
        return Err(malformed(format!(
            "The request has more than {MAX_VALUES} parameters or values."
        )));
    }
    Ok(Node::Map(root).into_value())
}

/// Checks a JSON body's nesting and number of values before it is parsed: one pass over the
/// bytes, strings skipped.
///
/// # Errors
/// `SerializationException` when it is nested deeper than [`MAX_DEPTH`] or holds more than
/// [`MAX_VALUES`] values.
pub fn check_json(body: &[u8]) -> Result<(), Refusal> {
    let (mut depth, mut values) = (0usize, 1usize);
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' | b':' => values += 1,
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(Refusal::new(
                ErrorCode::SerializationException,
                format!("The request is nested deeper than {MAX_DEPTH} levels."),
            ));
        }
        if values > 2 * MAX_VALUES {
            return Err(Refusal::new(
                ErrorCode::SerializationException,
                format!("The request has more than {MAX_VALUES} values."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_action_is_found_without_parsing_the_rest() {
        assert_eq!(
            query_action(b"Version=1&Action=ListMetrics&a.a.a=x").as_deref(),
            Some("ListMetrics")
        );
        assert_eq!(query_action(b"Version=1"), None);
    }

    #[test]
    fn a_deep_name_is_refused_without_recursion() {
        // The probe's body: 20,000 segments (it overflowed the stack when parsed recursively).
        let body = format!("Action=ListMetrics&{}=x", vec!["a"; 20_000].join("."));
        let e = decode_query(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, "MalformedQueryString");
        assert!(e.message.contains("20000 segments"), "{}", e.message);
        // The deepest CloudWatch input is accepted.
        let ok = decode_query(
            b"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value=b",
        )
        .unwrap();
        assert_eq!(
            ok,
            json!({"MetricDataQueries": [{"MetricStat": {"Metric": {"Dimensions": [{"Value": "b"}]}}}]})
        );
    }

    #[test]
    fn member_indices_are_sparse_not_preallocated() {
        // member.1000 is one item, not 1,000 slots.
        let v = decode_query(b"A.member.1000=x&A.member.3=y").unwrap();
        assert_eq!(v, json!({"A": ["y", "x"]}));
        let wide: String = (0..MAX_VALUES / 2)
            .map(|i| format!("a{i}.member.1000=x&"))
            .collect();
        let v = decode_query(wide.as_bytes()).unwrap();
        assert_eq!(v.as_object().unwrap().len(), MAX_VALUES / 2);
        let too_many: String = (0..=MAX_VALUES).map(|i| format!("a{i}=x&")).collect();
        assert_eq!(
            decode_query(too_many.as_bytes()).unwrap_err().code,
            "MalformedQueryString"
        );
        for bad in [
            &b"A.member.0=x"[..],
            b"A.member.1001=x",
            b"A.member.x=1",
            b"member.1=x",
            b"A..B=x",
            b"A=1&A.B=2",
            b"A.B=2&A=1",
        ] {
            assert!(
                decode_query(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn json_is_bounded_before_it_is_parsed() {
        assert!(check_json(br#"{"a": [1, 2, {"b": "[[[[[[[[[[[[[[[[[[[[["}]}"#).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(check_json(deep.as_bytes()).is_err());
        let wide = format!("[{}0]", "0,".repeat(2 * MAX_VALUES));
        assert!(check_json(wide.as_bytes()).is_err());
    }
}
