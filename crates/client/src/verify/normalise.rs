//! One meaning, one form: what both halves pass through before they are compared, and the
//! line diff that shows the difference.

use leadshop_spec::cors::CorsConfiguration;
use leadshop_spec::lifecycle::LifecycleConfiguration;
use serde_json::{Map, Value, json};

/// S3's default transition minimum since September 2024.
const DEFAULT_MIN_SIZE: &str = "all_storage_classes_128K";

pub(super) fn to_value<T: serde::Serialize>(v: Option<&T>) -> Value {
    v.map_or(Value::Null, |v| {
        serde_json::to_value(v).unwrap_or(Value::Null)
    })
}

pub(super) fn encryption_rule(
    algorithm: &str,
    kms_key: Option<&str>,
    bucket_key: Option<bool>,
) -> Value {
    let mut d = Map::new();
    d.insert("SSEAlgorithm".into(), json!(algorithm));
    if let Some(k) = kms_key {
        d.insert("KMSMasterKeyID".into(), json!(k));
    }
    json!({
        "ApplyServerSideEncryptionByDefault": d,
        "BucketKeyEnabled": bucket_key.unwrap_or(false),
    })
}

/// One meaning, one form: lists where S3 takes a string or a list (sorted: their order has no
/// meaning), one statement list, statements in Sid order.
pub(super) fn normalise_policy(mut p: Value) -> Value {
    fn as_sorted_list(v: &mut Value) {
        let mut items = match v.take() {
            Value::Array(a) => a,
            other => vec![other],
        };
        items.sort_by_key(Value::to_string);
        items.dedup();
        *v = Value::Array(items);
    }
    let Some(obj) = p.as_object_mut() else {
        return p;
    };
    if let Some(st) = obj.get_mut("Statement") {
        if st.is_object() {
            *st = Value::Array(vec![st.take()]);
        }
        if let Some(list) = st.as_array_mut() {
            for s in list.iter_mut() {
                let Some(s) = s.as_object_mut() else { continue };
                for key in ["Action", "NotAction", "Resource", "NotResource"] {
                    if let Some(v) = s.get_mut(key) {
                        as_sorted_list(v);
                    }
                }
                for key in ["Principal", "NotPrincipal"] {
                    if let Some(Value::Object(m)) = s.get_mut(key) {
                        for v in m.values_mut() {
                            as_sorted_list(v);
                        }
                    }
                }
                if let Some(Value::Object(ops)) = s.get_mut("Condition") {
                    for keys in ops.values_mut() {
                        if let Value::Object(keys) = keys {
                            for v in keys.values_mut() {
                                as_sorted_list(v);
                                // Conditions compare text: `false` and "false" are one value.
                                if let Value::Array(a) = v {
                                    for x in a.iter_mut() {
                                        if !x.is_string() {
                                            *x = Value::String(x.to_string());
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            list.sort_by_key(|s| s.get("Sid").map(Value::to_string).unwrap_or_default());
        }
    }
    p
}

pub(super) fn normalise_cors(c: &CorsConfiguration) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(rules) = v.get_mut("CORSRules").and_then(Value::as_array_mut) {
        for r in rules {
            for key in [
                "AllowedOrigins",
                "AllowedMethods",
                "AllowedHeaders",
                "ExposeHeaders",
            ] {
                if let Some(Value::Array(a)) = r.get_mut(key) {
                    a.sort_by_key(Value::to_string);
                }
            }
        }
    }
    v
}

pub(super) fn normalise_lifecycle(l: &LifecycleConfiguration) -> Value {
    let mut v = serde_json::to_value(l).unwrap_or(Value::Null);
    let min_size = l.transition_default_minimum_object_size.clone();
    if let Some(rules) = v.get_mut("Rules").and_then(Value::as_array_mut) {
        for r in rules.iter_mut() {
            let Some(r) = r.as_object_mut() else { continue };
            // A rule's legacy top-level Prefix, a Filter of {} and a Filter of {"Prefix": ""}
            // all select every object.
            let legacy = r.remove("Prefix");
            let filter = r.entry("Filter").or_insert_with(|| json!({}));
            if let (Some(p), Some(f)) = (legacy, filter.as_object_mut()) {
                f.entry("Prefix").or_insert(p);
            }
            if filter.as_object().is_some_and(Map::is_empty) {
                *filter = json!({"Prefix": ""});
            }
        }
        rules.sort_by_key(|r| r.get("ID").map(Value::to_string).unwrap_or_default());
    }
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "TransitionDefaultMinimumObjectSize".into(),
            json!(min_size.as_deref().unwrap_or(DEFAULT_MIN_SIZE)),
        );
    }
    v
}

pub(super) fn normalise_metrics(mut list: Vec<Value>) -> Value {
    list.sort_by_key(|m| m.get("Id").map(Value::to_string).unwrap_or_default());
    Value::Array(list)
}

/// A minimal line diff (longest common subsequence): unchanged lines start with two spaces,
/// expected-only lines with `- `, live-only lines with `+ `.
pub(super) fn line_diff(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}
