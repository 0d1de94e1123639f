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

pub use condition::{Cidr, Condition, Operator, SetQualifier};
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

/// The condition key prefix whose values come from the object's stored tags.
pub const EXISTING_OBJECT_TAG: &str = "s3:ExistingObjectTag/";

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
    /// The checks an identity policy (attached to an access key) must pass on top of
    /// [`Policy::parse`]: no `Principal` (the key is the principal) and a `Resource` in every
    /// statement, as IAM requires.
    ///
    /// # Errors
    /// [`PolicyError`] naming the statement and the problem.
    pub fn check_identity_policy(&self) -> Result<(), PolicyError> {
        for (i, st) in self.statements.iter().enumerate() {
            if st.principal.is_some() {
                return Err(PolicyError(format!(
                    "Statement {i}: an identity policy must not name a Principal"
                )));
            }
            if st.resource.is_none() {
                return Err(PolicyError(format!(
                    "Statement {i}: Missing required field Resource"
                )));
            }
        }
        Ok(())
    }

    /// The buckets the policy's Allow statements name exactly (`arn:aws:s3:::name` or
    /// `arn:aws:s3:::name/…`, no wildcard in the name), sorted: where a key that may not list
    /// buckets can still go (the console offers them).
    #[must_use]
    pub fn named_buckets(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
            .filter_map(|s| s.resource.as_ref())
            .filter(|r| !r.negated)
            .flat_map(|r| r.patterns.iter())
            .filter_map(|p| p.strip_prefix("arn:aws:s3:::"))
            .map(|rest| rest.split('/').next().unwrap_or_default())
            .filter(|b| !b.is_empty() && !b.contains(['*', '?', '$']))
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The actions each statement names, for listings: `deny:` marks a Deny statement's,
    /// `all-but:` an Allow statement's `NotAction`.
    #[must_use]
    pub fn action_summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        for st in &self.statements {
            let prefix = match (st.effect, st.action.negated) {
                (Effect::Allow, false) => "",
                (Effect::Allow, true) => "all-but:",
                (Effect::Deny, _) => "deny:",
            };
            out.extend(st.action.patterns.iter().map(|a| format!("{prefix}{a}")));
        }
        out
    }

    /// The action patterns of this policy that match no action the server knows
    /// ([`crate::actions::known_actions`]), as IAM's policy validator warns of them: a
    /// misspelt `s3:GetObjekt` grants nothing and is easy to miss.
    #[must_use]
    pub fn unknown_actions(&self) -> Vec<String> {
        let known = crate::actions::known_actions();
        let mut out: Vec<String> = self
            .statements
            .iter()
            .flat_map(|st| st.action.patterns.iter())
            .filter(|p| !known.iter().any(|k| pattern::wildcard(p, k, true)))
            .cloned()
            .collect();
        out.dedup();
        out
    }

    /// Whether any condition uses a key starting with `prefix` (case-insensitive), so callers
    /// can skip gathering expensive context (e.g. `s3:ExistingObjectTag/`) nobody reads.
    #[must_use]
    pub fn uses_condition_key(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.statements.iter().any(|s| {
            s.conditions
                .iter()
                .any(|c| c.key.to_ascii_lowercase().starts_with(&prefix))
        })
    }

    /// This policy as RestrictPublicBuckets leaves it for callers outside the account: its
    /// public Allow statements removed (Deny statements always stay).
    #[must_use]
    pub fn without_public_grants(&self) -> Self {
        let mut out = self.clone();
        out.statements.retain(|s| {
            !(s.effect == Effect::Allow
                && Self {
                    version: String::new(),
                    id: None,
                    statements: vec![s.clone()],
                }
                .is_public())
        });
        out
    }

    /// The checks `PutBucketPolicy` adds to [`Policy::parse`]: every statement names a
    /// principal, only S3 actions, and resources of this bucket only (AWS answers
    /// MalformedPolicy "Policy has invalid resource" otherwise).
    ///
    /// # Errors
    /// [`PolicyError`] naming the statement and the problem.
    pub fn check_bucket_policy(&self, bucket: &str) -> Result<(), PolicyError> {
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        for (i, st) in self.statements.iter().enumerate() {
            if st.principal.is_none() {
                return Err(PolicyError(format!(
                    "Statement {i}: Missing required field Principal"
                )));
            }
            if let Some(a) = st
                .action
                .patterns
                .iter()
                .find(|a| *a != "*" && !a.to_ascii_lowercase().starts_with("s3:"))
            {
                return Err(PolicyError(format!(
                    "Statement {i}: Policy has invalid action {a:?}"
                )));
            }
            let Some(resource) = &st.resource else {
                return Err(PolicyError(format!(
                    "Statement {i}: Missing required field Resource"
                )));
            };
            if let Some(r) = resource.patterns.iter().find(|r| {
                r.strip_prefix(&bucket_arn)
                    .is_none_or(|rest| !rest.is_empty() && !rest.starts_with('/'))
            }) {
                return Err(PolicyError(format!(
                    "Statement {i}: Policy has invalid resource {r:?} (must be {bucket_arn} or {bucket_arn}/…)"
                )));
            }
        }
        Ok(())
    }

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
