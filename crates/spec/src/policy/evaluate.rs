//! Evaluation: which statements apply to a request, and how their effects combine
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>,
//! the single-account case).

use std::collections::HashMap;

use super::pattern::{could_match_prefix, substitute, wildcard};
use super::{Effect, Matchers, Policy, PrincipalSpec, Principals, Statement};

/// Condition keys and their values for one request. Keys are case-insensitive.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty context with room for `n` keys.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self {
            values: HashMap::with_capacity(n),
        }
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// Sets a multi-valued key (e.g. `s3:RequestObjectTagKeys`).
    pub fn set_all(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.values.insert(key.to_ascii_lowercase(), values);
        self
    }

    /// The values of a key, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[String]> {
        // Lower-case short keys on the stack: this runs for every condition of every request.
        let mut buf = [0u8; 128];
        let found = if key.len() <= buf.len() {
            let b = &mut buf[..key.len()];
            b.copy_from_slice(key.as_bytes());
            b.make_ascii_lowercase();
            std::str::from_utf8(b).ok().and_then(|k| self.values.get(k))
        } else {
            self.values.get(&key.to_ascii_lowercase())
        };
        found.map(Vec::as_slice)
    }

    fn first(&self, key: &str) -> Option<String> {
        self.get(key).and_then(|v| v.first().cloned())
    }
}

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller's ARN (`arn:aws:iam::123456789012:user/app`); `None` for anonymous.
    pub principal: Option<&'a str>,
    /// The caller's account id, for `"AWS": "123456789012"` principals.
    pub account: Option<&'a str>,
    /// IAM action, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// Resource ARN, e.g. `arn:aws:s3:::leadshop-assets/reports/a.pdf`.
    pub resource: &'a str,
    /// Condition keys.
    pub context: &'a Context,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// At least one Allow applied and no Deny.
    Allow,
    /// A Deny statement applied.
    ExplicitDeny,
    /// Nothing allowed it.
    ImplicitDeny,
}

/// Evaluates all policies that govern the request together (the caller's identity policy and
/// the bucket policy): an explicit Deny anywhere wins, else any Allow, else implicit deny.
#[must_use]
pub fn evaluate(policies: &[&Policy], req: &Request<'_>) -> Decision {
    let mut allowed = false;
    for policy in policies {
        for st in &policy.statements {
            if statement_applies(st, req) {
                match st.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether a statement's principal, action, resource and conditions all match the request.
#[must_use]
pub fn statement_applies(st: &Statement, req: &Request<'_>) -> bool {
    principal_matches(st.principal.as_ref(), req)
        && matchers(&st.action, |p| wildcard(p, req.action, true))
        && st.resource.as_ref().is_none_or(|r| {
            matchers(r, |p| {
                substitute(p, &|k| req.context.first(k))
                    .is_some_and(|p| wildcard(&p, req.resource, false))
            })
        })
        && st.conditions.iter().all(|c| c.holds(req.context))
}

impl Policy {
    /// Whether an Allow statement of this policy could apply to `principal` doing one of
    /// `actions` on some resource starting with `resource_prefix`, if its conditions held.
    /// An over-approximation for refusing early what nothing could allow: `NotResource`,
    /// `NotAction` and policy variables in resources count as "could".
    #[must_use]
    pub fn may_allow(
        &self,
        principal: Option<&str>,
        account: Option<&str>,
        actions: &[&str],
        resource_prefix: &str,
    ) -> bool {
        let empty = Context::new();
        let who = Request {
            principal,
            account,
            action: "",
            resource: "",
            context: &empty,
        };
        self.statements.iter().any(|st| {
            st.effect == Effect::Allow
                && principal_matches(st.principal.as_ref(), &who)
                && (st.action.negated
                    || actions
                        .iter()
                        .any(|a| st.action.patterns.iter().any(|p| wildcard(p, a, true))))
                && st.resource.as_ref().is_none_or(|r| {
                    r.negated
                        || r.patterns
                            .iter()
                            .any(|p| p.contains("${") || could_match_prefix(p, resource_prefix))
                })
        })
    }
}

fn matchers(m: &Matchers, hit: impl Fn(&str) -> bool) -> bool {
    m.patterns.iter().any(|p| hit(p)) != m.negated
}

fn principal_matches(spec: Option<&PrincipalSpec>, req: &Request<'_>) -> bool {
    match spec {
        // Identity policies carry no Principal: they apply to the identity they belong to.
        None => true,
        Some(PrincipalSpec::Principal(p)) => principals_contain(p, req),
        Some(PrincipalSpec::NotPrincipal(p)) => !principals_contain(p, req),
    }
}

fn principals_contain(p: &Principals, req: &Request<'_>) -> bool {
    match p {
        Principals::Anyone => true,
        Principals::Listed(list) => {
            let Some(caller) = req.principal else {
                return false;
            };
            list.iter().any(|(kind, value)| match kind.as_str() {
                "AWS" => {
                    value == "*"
                        || value == caller
                        || req.account.is_some_and(|a| {
                            value == a || *value == format!("arn:aws:iam::{a}:root")
                        })
                }
                _ => value == caller,
            })
        }
    }
}
