//! The CORS configuration document (`PutBucketCors`) in AWS JSON shape, its validation, and
//! the rule matching S3 applies to preflight and actual cross-origin requests.
//!
//! `{"CORSRules": [{"ID", "AllowedOrigins", "AllowedMethods", "AllowedHeaders",
//! "ExposeHeaders", "MaxAgeSeconds"}]}`, as `config/buckets/<bucket>/cors.json` and
//! Terraform's `aws_s3_bucket_cors_configuration` use it.

use crate::refusal::{ErrorCode, Refusal};
use serde::{Deserialize, Serialize};

/// At most this many rules, as on AWS.
pub const MAX_RULES: usize = 100;
/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// A bucket's CORS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfiguration {
    /// The rules, in order: the first that matches a request applies.
    #[serde(rename = "CORSRules")]
    pub rules: Vec<CorsRule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct CorsRule {
    /// Its id (at most 255 characters).
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins, each with at most one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// Methods, of [`METHODS`].
    pub allowed_methods: Vec<String>,
    /// Headers a preflight may ask for, each with at most one `*` (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may show the page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// Whether `value` matches `pattern`, which has at most one `*` standing for any run of
/// characters. `fold` compares case-insensitively (headers).
fn wildcard_match(pattern: &str, value: &str, fold: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if fold {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.is_char_boundary(head.len())
                && value.is_char_boundary(value.len() - tail.len())
                && eq(&value[..head.len()], head)
                && eq(&value[value.len() - tail.len()..], tail)
        }
    }
}

impl CorsConfiguration {
    /// Parses and validates the JSON document.
    ///
    /// # Errors
    /// [`Refusal`] as S3 answers PutBucketCors.
    pub fn parse(json: &str) -> Result<Self, Refusal> {
        let c: Self = serde_json::from_str(json).map_err(|e| {
            Refusal::new(
                ErrorCode::MalformedXML,
                format!("The CORS configuration does not parse: {e}"),
            )
        })?;
        c.validate()?;
        Ok(c)
    }

    /// AWS's checks.
    ///
    /// # Errors
    /// [`Refusal`]: no rules, more than [`MAX_RULES`], a rule without origins or methods
    /// (`MalformedXML`); an unknown method, an origin or header with more than one `*`, an id
    /// over 255 characters, a negative max age (`InvalidRequest`).
    pub fn validate(&self) -> Result<(), Refusal> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(if self.rules.is_empty() {
                Refusal::malformed_xml()
            } else {
                Refusal::invalid_request(format!(
                    "The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules."
                ))
            });
        }
        for rule in &self.rules {
            if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
                return Err(Refusal::malformed_xml());
            }
            if let Some(m) = rule
                .allowed_methods
                .iter()
                .find(|m| !METHODS.contains(&m.as_str()))
            {
                return Err(Refusal::invalid_request(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
            if let Some(o) = rule
                .allowed_origins
                .iter()
                .find(|o| o.matches('*').count() > 1)
            {
                return Err(Refusal::invalid_request(format!(
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                )));
            }
            if let Some(h) = rule
                .allowed_headers
                .iter()
                .find(|h| h.matches('*').count() > 1)
            {
                return Err(Refusal::invalid_request(format!(
                    "AllowedHeader \"{h}\" can not have more than one wildcard."
                )));
            }
            if rule.id.as_ref().is_some_and(|id| id.len() > 255) {
                return Err(Refusal::invalid_request(
                    "The ID of a CORS rule can not be longer than 255 characters.",
                ));
            }
            if rule.max_age_seconds.is_some_and(|a| a < 0) {
                return Err(Refusal::malformed_xml());
            }
        }
        Ok(())
    }

    /// The first rule that allows `origin` to use `method` sending `headers` (the
    /// preflight's `Access-Control-Request-Headers`, or none for an actual request).
    #[must_use]
    pub fn find(&self, origin: &str, method: &str, headers: &[&str]) -> Option<&CorsRule> {
        self.rules
            .iter()
            .find(|r| r.allows(origin, method, headers))
    }
}

impl CorsRule {
    /// Whether this rule allows the request.
    #[must_use]
    pub fn allows(&self, origin: &str, method: &str, headers: &[&str]) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, false))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.allowed_headers
                    .iter()
                    .any(|a| wildcard_match(a, h, true))
            })
    }

    /// What `Access-Control-Allow-Origin` says: `*` when the rule allows every origin
    /// (credentials are then not allowed), else the request's origin.
    #[must_use]
    pub fn allow_origin<'a>(&self, origin: &'a str) -> (&'a str, bool) {
        if self.allowed_origins.iter().any(|o| o == "*") {
            ("*", false)
        } else {
            (origin, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> CorsConfiguration {
        CorsConfiguration::parse(include_str!(
            "../../../config/buckets/leadshop-assets/cors.json"
        ))
        .unwrap()
    }

    #[test]
    fn the_baseline_document_allows_the_web_app_and_nothing_else() {
        let c = baseline();
        assert!(
            c.find(
                "http://localhost:3000",
                "PUT",
                &["content-type", "x-amz-meta-lead"]
            )
            .is_some()
        );
        assert!(
            c.find("https://staging.leadfactory.com", "POST", &[])
                .is_some()
        );
        assert!(c.find("http://localhost:3001", "PUT", &[]).is_none());
        assert!(c.find("https://evil.example", "GET", &[]).is_none());
        assert!(c.find("http://localhost:3000", "DELETE", &[]).is_none());
        let r = c.find("http://localhost:3000", "GET", &[]).unwrap();
        assert_eq!(
            r.allow_origin("http://localhost:3000"),
            ("http://localhost:3000", true)
        );
        assert_eq!(r.max_age_seconds, Some(3000));
    }

    #[test]
    fn wildcards_match_one_run_and_headers_ignore_case() {
        assert!(wildcard_match(
            "https://*.leadfactory.com",
            "https://app.leadfactory.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.leadfactory.com",
            "https://leadfactory.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.leadfactory.com",
            "http://app.leadfactory.com",
            false
        ));
        assert!(wildcard_match("*", "anything", false));
        assert!(wildcard_match("x-amz-*", "X-Amz-Meta-Lead", true));
        assert!(!wildcard_match("x-amz-*", "content-type", true));
        assert!(!wildcard_match("Origin", "origin", false));
        let rule = CorsRule {
            allowed_origins: vec!["*".into()],
            allowed_methods: vec!["GET".into()],
            allowed_headers: vec!["Authorization".into()],
            ..CorsRule::default()
        };
        assert!(rule.allows("https://x", "GET", &["authorization"]));
        assert!(!rule.allows("https://x", "GET", &["authorization", "x-custom"]));
        assert_eq!(rule.allow_origin("https://x"), ("*", false));
    }

    #[test]
    fn invalid_documents_get_aws_codes() {
        let bad = |json: &str| CorsConfiguration::parse(json).unwrap_err().code;
        assert_eq!(bad(r#"{"CORSRules": []}"#), "MalformedXML");
        assert_eq!(
            bad(r#"{"CORSRules": [{"AllowedOrigins": ["*"]}]}"#),
            "MalformedXML"
        );
        assert_eq!(
            bad(r#"{"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}"#),
            "InvalidRequest"
        );
        assert_eq!(
            bad(
                r#"{"CORSRules": [{"AllowedOrigins": ["http://*.*"], "AllowedMethods": ["GET"]}]}"#
            ),
            "InvalidRequest"
        );
        let many = format!(
            r#"{{"CORSRules": [{}]}}"#,
            vec![r#"{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}"#; 101].join(",")
        );
        assert_eq!(bad(&many), "InvalidRequest");
    }
}
