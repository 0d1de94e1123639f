//! IAM policy documents: the AST ([`Policy`]), the parser ([`Policy::parse`], which names the
//! problem in a malformed document), and evaluation as AWS does it ([`evaluate`]): an explicit
//! Deny anywhere wins; otherwise an Allow from any applicable policy; otherwise implicit deny.
//!
//! Pure: the caller supplies the request (principal, action, resource) and its condition
//! context (`aws:SecureTransport`, `aws:SourceIp`, …) as strings.
//!
//! # Layout
//! - `parse`: JSON → [`Policy`], refusing what is malformed or unsupported.
//! - `condition`: condition operators and their AWS semantics.
//! - `evaluate`: statement matching and the Deny > Allow > implicit-deny combination.
//! - `pattern`: `*`/`?` wildcards and `${…}` policy variables.

mod condition;
mod evaluate;
mod parse;
mod pattern;

pub use condition::{Condition, Operator, SetQualifier};
pub use evaluate::{Context, Decision, Request, evaluate, statement_applies};
pub use parse::PolicyError;

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `Version` (`2012-10-17` or `2008-10-17`).
    pub version: String,
    /// `Id`.
    pub id: Option<String>,
    /// The statements, in document order (order never changes the outcome).
    pub statements: Vec<Statement>,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, overriding every Allow.
    Deny,
}

/// Who a statement of a resource policy is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included.
    Anyone,
    /// Principals by type (`AWS`, `Service`, `CanonicalUser`, `Federated`) → ARNs, account ids
    /// or service names.
    Listed(Vec<(String, String)>),
}

/// A statement's `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    /// `Principal`.
    Principal(Principals),
    /// `NotPrincipal`.
    NotPrincipal(Principals),
}

/// `Action` / `NotAction`, or `Resource` / `NotResource`: patterns, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matchers {
    /// The patterns (`s3:Get*`, `arn:aws:s3:::bucket/*`).
    pub patterns: Vec<String>,
    /// Whether this is the `Not…` form.
    pub negated: bool,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` / `NotPrincipal` (only in resource policies).
    pub principal: Option<PrincipalSpec>,
    /// `Action` / `NotAction`.
    pub action: Matchers,
    /// `Resource` / `NotResource` (absent in some resource policies: then the attached resource).
    pub resource: Option<Matchers>,
    /// `Condition`: every entry must hold.
    pub conditions: Vec<Condition>,
}

impl Policy {
    /// Whether any Allow statement grants to everyone (`"*"`), the test Public Access Block's
    /// BlockPublicPolicy applies. A statement restricted by `aws:SourceIp`, `aws:SourceArn`,
    /// `aws:SourceAccount`, `aws:PrincipalAccount` or `aws:SourceVpc*` conditions is not public,
    /// as on AWS.
    #[must_use]
    pub fn is_public(&self) -> bool {
        const RESTRICTING: [&str; 6] = [
            "aws:sourceip",
            "aws:sourcearn",
            "aws:sourceaccount",
            "aws:principalaccount",
            "aws:sourcevpc",
            "aws:sourcevpce",
        ];
        self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && matches!(
                    &s.principal,
                    Some(PrincipalSpec::Principal(Principals::Anyone))
                        | Some(PrincipalSpec::NotPrincipal(_))
                )
                && !s
                    .conditions
                    .iter()
                    .any(|c| RESTRICTING.contains(&c.key.to_ascii_lowercase().as_str()))
        })
    }
}
