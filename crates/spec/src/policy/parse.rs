//! JSON → [`Policy`]. Everything malformed or unsupported is refused with a message that
//! names the element, so `PutBucketPolicy` can answer MalformedPolicy helpfully.

use serde_json::{Map, Value};

use super::condition::Condition;
use super::{Effect, Matchers, Policy, PrincipalSpec, Principals, Statement};

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

/// A string or an array of strings (policy grammar's "one or many").
fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => err(format!("{what} must contain only strings")),
            })
            .collect(),
        Value::Array(_) => err(format!("{what} must not be empty")),
        _ => err(format!("{what} must be a string or an array of strings")),
    }
}

/// Condition values may be strings, booleans or numbers; compare them as strings.
fn condition_values(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => err(format!(
            "{what}: values must be strings, numbers or booleans"
        )),
    };
    match v {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => err(format!("{what}: empty value list")),
        other => Ok(vec![one(other)?]),
    }
}

impl Policy {
    /// Parses and validates a policy document.
    ///
    /// # Errors
    /// [`PolicyError`] naming the problem.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| PolicyError(format!("Policies must be valid JSON: {e}")))?;
        let Value::Object(top) = v else {
            return err("The policy must be a JSON object");
        };
        for k in top.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return err(format!("Unknown field {k}"));
            }
        }
        let version = match top.get("Version") {
            None => "2008-10-17".to_string(),
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => v.clone(),
            Some(_) => return err("Version must be \"2012-10-17\" or \"2008-10-17\""),
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err("Id must be a string"),
        };
        let statements = match top.get("Statement") {
            Some(Value::Object(o)) => vec![statement(o, 0)?],
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Value::Object(o) => statement(o, i),
                    _ => err(format!("Statement {i} must be an object")),
                })
                .collect::<Result<_, _>>()?,
            _ => return err("Missing required field Statement (an object or a non-empty array)"),
        };
        let mut sids: Vec<&str> = statements
            .iter()
            .filter_map(|s: &Statement| s.sid.as_deref())
            .collect();
        sids.sort_unstable();
        if let Some(w) = sids.windows(2).find(|w| w[0] == w[1]) {
            return err(format!(
                "Statement IDs (SID) must be unique: {:?} appears twice",
                w[0]
            ));
        }
        Ok(Self {
            version,
            id,
            statements,
        })
    }
}

fn statement(o: &Map<String, Value>, i: usize) -> Result<Statement, PolicyError> {
    let at = |field: &str| format!("Statement {i}: {field}");
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return err(format!("{}: unknown field", at(k)));
        }
    }
    let sid = match o.get("Sid") {
        None => None,
        Some(Value::String(s)) if s.chars().all(|c| c.is_ascii_alphanumeric()) => Some(s.clone()),
        Some(_) => return err(format!("{} must be an alphanumeric string", at("Sid"))),
    };
    let effect = match o.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return err(format!("{} must be \"Allow\" or \"Deny\"", at("Effect"))),
    };
    let principal = match (o.get("Principal"), o.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return err(format!(
                "{} and NotPrincipal are exclusive",
                at("Principal")
            ));
        }
        (Some(p), None) => Some(PrincipalSpec::Principal(principals(p, &at("Principal"))?)),
        (None, Some(p)) => Some(PrincipalSpec::NotPrincipal(principals(
            p,
            &at("NotPrincipal"),
        )?)),
        (None, None) => None,
    };
    let action = match (o.get("Action"), o.get("NotAction")) {
        (Some(_), Some(_)) => return err(format!("{} and NotAction are exclusive", at("Action"))),
        (Some(a), None) => Matchers {
            patterns: actions(a, &at("Action"))?,
            negated: false,
        },
        (None, Some(a)) => Matchers {
            patterns: actions(a, &at("NotAction"))?,
            negated: true,
        },
        (None, None) => return err(format!("{} is missing (Action or NotAction)", at("Action"))),
    };
    let resource = match (o.get("Resource"), o.get("NotResource")) {
        (Some(_), Some(_)) => {
            return err(format!("{} and NotResource are exclusive", at("Resource")));
        }
        (Some(r), None) => Some(Matchers {
            patterns: resources(r, &at("Resource"))?,
            negated: false,
        }),
        (None, Some(r)) => Some(Matchers {
            patterns: resources(r, &at("NotResource"))?,
            negated: true,
        }),
        (None, None) => None,
    };
    let mut conditions = Vec::new();
    if let Some(c) = o.get("Condition") {
        let Value::Object(ops) = c else {
            return err(format!("{} must be an object", at("Condition")));
        };
        for (op_name, keys) in ops {
            let (operator, if_exists, qualifier) = Condition::parse_operator(op_name)
                .map_err(|m| PolicyError(format!("{}: {m}", at("Condition"))))?;
            let Value::Object(keys) = keys else {
                return err(format!(
                    "{}: {op_name} must map condition keys to values",
                    at("Condition")
                ));
            };
            for (key, values) in keys {
                let what = format!("{}: {op_name}/{key}", at("Condition"));
                let values = condition_values(values, &what)?;
                for v in &values {
                    Condition::check_value(operator, v)
                        .map_err(|m| PolicyError(format!("{what}: {m}")))?;
                }
                conditions.push(Condition {
                    operator,
                    if_exists,
                    qualifier,
                    key: key.clone(),
                    values,
                });
            }
        }
    }
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn principals(v: &Value, what: &str) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) if !map.is_empty() => {
            let mut list = Vec::new();
            for (kind, ids) in map {
                if !matches!(
                    kind.as_str(),
                    "AWS" | "Service" | "CanonicalUser" | "Federated"
                ) {
                    return err(format!("{what}: unknown principal type {kind}"));
                }
                for id in strings(ids, &format!("{what}/{kind}"))? {
                    if kind == "AWS" && id == "*" {
                        return Ok(Principals::Anyone);
                    }
                    if id.contains('*') || id.contains('?') {
                        return err(format!(
                            "{what}: wildcards are not allowed in principals ({id:?})"
                        ));
                    }
                    list.push((kind.clone(), id));
                }
            }
            Ok(Principals::Listed(list))
        }
        _ => err(format!(
            "{what} must be \"*\" or an object of principal types"
        )),
    }
}

fn actions(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let list = strings(v, what)?;
    for a in &list {
        let valid = a == "*"
            || a.split_once(':')
                .is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty());
        if !valid {
            return err(format!("{what}: {a:?} is not an action (service:Action)"));
        }
    }
    Ok(list)
}

fn resources(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let list = strings(v, what)?;
    for r in &list {
        if r != "*" && !r.starts_with("arn:") {
            return err(format!("{what}: {r:?} is not an ARN"));
        }
    }
    Ok(list)
}
