//! Condition operators with AWS's semantics
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//! values listed for one key are ORed; keys and operators are ANDed; a missing key makes a
//! condition false, except for the negated operators (true), `…IfExists` (true) and `Null`.

use std::net::IpAddr;

use super::evaluate::Context;
use super::pattern::wildcard;

/// A condition operator, without its `…IfExists` suffix or set qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Operator {
    fn from_name(name: &str) -> Option<Self> {
        use Operator::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Negated operators are true when the key is missing.
    fn negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:` for multi-valued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// At least one request value matches.
    ForAnyValue,
    /// Every request value matches (true when there are none).
    ForAllValues,
}

/// One condition: operator, key and the policy's values for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// `…IfExists`.
    pub if_exists: bool,
    /// Set qualifier.
    pub qualifier: Option<SetQualifier>,
    /// Condition key as written (compared case-insensitively).
    pub key: String,
    /// Values from the policy (ORed).
    pub values: Vec<String>,
}

impl Condition {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`.
    ///
    /// # Errors
    /// The name of the unknown operator.
    pub fn parse_operator(name: &str) -> Result<(Operator, bool, Option<SetQualifier>), String> {
        let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let op = Operator::from_name(base)
            .ok_or_else(|| format!("unknown condition operator {name:?}"))?;
        if op == Operator::Null && (if_exists || qualifier.is_some()) {
            return Err(format!("{name:?}: Null takes no IfExists or set qualifier"));
        }
        Ok((op, if_exists, qualifier))
    }

    /// Checks a policy value for its operator at parse time.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn check_value(op: Operator, value: &str) -> Result<(), String> {
        use Operator::*;
        let ok = match op {
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => value.parse::<f64>().is_ok(),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => parse_date(value).is_some(),
            Bool | Null => {
                value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
            }
            IpAddress | NotIpAddress => parse_cidr(value).is_some(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{value:?} is not a valid value for {op:?}"))
        }
    }

    /// Evaluates the condition against the request context.
    #[must_use]
    pub fn holds(&self, ctx: &Context) -> bool {
        let values = ctx.get(&self.key);
        if self.operator == Operator::Null {
            let absent = values.is_none_or(<[String]>::is_empty);
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let Some(request) = values.filter(|v| !v.is_empty()) else {
            return match self.qualifier {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => self.if_exists || self.operator.negated(),
            };
        };
        let one = |r: &str| self.matches_one(r);
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => request.iter().all(|r| one(r)),
            Some(SetQualifier::ForAnyValue) => request.iter().any(|r| one(r)),
            // A single-valued key; with several request values, any match counts.
            None => request.iter().any(|r| one(r)),
        }
    }

    /// Whether one request value satisfies the operator against the policy's values.
    fn matches_one(&self, request: &str) -> bool {
        use Operator::*;
        let any = |f: &dyn Fn(&str) -> bool| self.values.iter().any(|v| f(v));
        match self.operator {
            StringEquals | ArnEquals => any(&|v| v == request),
            StringNotEquals | ArnNotEquals => !any(&|v| v == request),
            StringEqualsIgnoreCase => any(&|v| v.eq_ignore_ascii_case(request)),
            StringNotEqualsIgnoreCase => !any(&|v| v.eq_ignore_ascii_case(request)),
            StringLike | ArnLike => any(&|v| wildcard(v, request, false)),
            StringNotLike | ArnNotLike => !any(&|v| wildcard(v, request, false)),
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => {
                let Ok(r) = request.parse::<f64>() else {
                    return self.operator.negated();
                };
                let cmp = |v: &str| v.parse::<f64>().ok().map(|v| r.partial_cmp(&v));
                let hit = |want: &dyn Fn(std::cmp::Ordering) -> bool| {
                    self.values
                        .iter()
                        .any(|v| cmp(v).flatten().is_some_and(want))
                };
                match self.operator {
                    NumericEquals => hit(&|o| o.is_eq()),
                    NumericNotEquals => !hit(&|o| o.is_eq()),
                    NumericLessThan => hit(&|o| o.is_lt()),
                    NumericLessThanEquals => hit(&|o| o.is_le()),
                    NumericGreaterThan => hit(&|o| o.is_gt()),
                    _ => hit(&|o| o.is_ge()),
                }
            }
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => {
                let Some(r) = parse_date(request) else {
                    return self.operator.negated();
                };
                let hit = |want: &dyn Fn(std::cmp::Ordering) -> bool| {
                    self.values
                        .iter()
                        .any(|v| parse_date(v).is_some_and(|v| want(r.cmp(&v))))
                };
                match self.operator {
                    DateEquals => hit(&|o| o.is_eq()),
                    DateNotEquals => !hit(&|o| o.is_eq()),
                    DateLessThan => hit(&|o| o.is_lt()),
                    DateLessThanEquals => hit(&|o| o.is_le()),
                    DateGreaterThan => hit(&|o| o.is_gt()),
                    _ => hit(&|o| o.is_ge()),
                }
            }
            Bool => any(&|v| v.eq_ignore_ascii_case(request)),
            IpAddress | NotIpAddress => {
                let Ok(ip) = request.parse::<IpAddr>() else {
                    return self.operator.negated();
                };
                let inside = self
                    .values
                    .iter()
                    .any(|v| parse_cidr(v).is_some_and(|(net, len)| in_cidr(ip, net, len)));
                (self.operator == IpAddress) == inside
            }
            Null => false,
        }
    }
}

/// ISO 8601 (RFC 3339) or epoch seconds, as milliseconds since the epoch.
fn parse_date(s: &str) -> Option<i128> {
    if let Ok(secs) = s.parse::<i64>() {
        return Some(i128::from(secs) * 1000);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() / 1_000_000)
}

/// An IP range (`10.0.0.0/8`, `2001:db8::/32`, or one address), as `IpAddress` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parses a range; `None` if it is not one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        parse_cidr(s).map(|(net, len)| Self { net, len })
    }

    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses match IPv4 ranges).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        in_cidr(ip, self.net, self.len)
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn in_cidr(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4-mapped IPv6 address matches IPv4 ranges.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_cidr(IpAddr::V4(v4), net, len)),
        _ => false,
    }
}
