//! A bucket's whole specification: its name and the documents that configure it.

use crate::encryption::EncryptionConfiguration;
use crate::policy::Policy;
use crate::public_access_block::PublicAccessBlock;
use crate::versioning::VersioningConfiguration;

/// The bucket holding the application's assets.
pub const ASSETS_BUCKET: &str = "leadshop-assets";
/// The bucket receiving server access logs.
pub const LOG_BUCKET: &str = "leadshop-security-logs";

/// Values for the `${name}` placeholders of the spec documents (Terraform passes the same
/// names to `templatefile()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVars {
    /// `${account_id}`: the account that owns the buckets.
    pub account_id: String,
    /// `${log_bucket}`: where access logs go.
    pub log_bucket: String,
    /// `${source_bucket}`: the bucket whose access logs the log bucket receives.
    pub source_bucket: String,
}

impl TemplateVars {
    /// The built-in bucket names with the given account id.
    #[must_use]
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_string(),
            log_bucket: LOG_BUCKET.to_string(),
            source_bucket: ASSETS_BUCKET.to_string(),
        }
    }
}

/// Why a spec document was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The document is not valid JSON of the expected shape.
    #[error("{bucket}/{document}: {message}")]
    Invalid {
        /// Bucket the document belongs to.
        bucket: String,
        /// Document file name.
        document: String,
        /// What is wrong.
        message: String,
    },
}

/// A bucket and its configuration documents, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// Bucket name.
    pub name: String,
    /// `versioning.json`, if present.
    pub versioning: Option<VersioningConfiguration>,
    /// `encryption.json`, if present.
    pub encryption: Option<EncryptionConfiguration>,
    /// `policy.json`, rendered (placeholders filled) and validated as a bucket policy.
    pub policy: Option<String>,
    /// `public-access-block.json`, if present.
    pub public_access_block: Option<PublicAccessBlock>,
    /// `cors.json`, if present.
    pub cors: Option<crate::cors::CorsConfiguration>,
    /// `lifecycle.json`, if present.
    pub lifecycle: Option<crate::lifecycle::LifecycleConfiguration>,
    /// `logging.json`, rendered (`${log_bucket}`, `${bucket}`) and validated.
    pub logging: Option<crate::logging::BucketLoggingStatus>,
    /// `metrics.json`: request-metrics configurations.
    pub metrics: Option<crate::metrics::MetricsConfigurations>,
}

/// The spec documents shipped in `config/buckets/`, compiled in so `leadshop serve` runs from
/// any directory. `(bucket, file name, text)`.
pub const BUILTIN_DOCUMENTS: &[(&str, &str, &str)] = &[
    (
        "leadshop-assets",
        "versioning.json",
        include_str!("../../../config/buckets/leadshop-assets/versioning.json"),
    ),
    (
        "leadshop-assets",
        "encryption.json",
        include_str!("../../../config/buckets/leadshop-assets/encryption.json"),
    ),
    (
        "leadshop-assets",
        "cors.json",
        include_str!("../../../config/buckets/leadshop-assets/cors.json"),
    ),
    (
        "leadshop-assets",
        "lifecycle.json",
        include_str!("../../../config/buckets/leadshop-assets/lifecycle.json"),
    ),
    (
        "leadshop-assets",
        "logging.json",
        include_str!("../../../config/buckets/leadshop-assets/logging.json"),
    ),
    (
        "leadshop-assets",
        "metrics.json",
        include_str!("../../../config/buckets/leadshop-assets/metrics.json"),
    ),
    (
        "leadshop-assets",
        "policy.json",
        include_str!("../../../config/buckets/leadshop-assets/policy.json"),
    ),
    (
        "leadshop-assets",
        "public-access-block.json",
        include_str!("../../../config/buckets/leadshop-assets/public-access-block.json"),
    ),
    (
        "leadshop-security-logs",
        "versioning.json",
        include_str!("../../../config/buckets/leadshop-security-logs/versioning.json"),
    ),
    (
        "leadshop-security-logs",
        "encryption.json",
        include_str!("../../../config/buckets/leadshop-security-logs/encryption.json"),
    ),
    (
        "leadshop-security-logs",
        "lifecycle.json",
        include_str!("../../../config/buckets/leadshop-security-logs/lifecycle.json"),
    ),
    (
        "leadshop-security-logs",
        "policy.json",
        include_str!("../../../config/buckets/leadshop-security-logs/policy.json"),
    ),
    (
        "leadshop-security-logs",
        "public-access-block.json",
        include_str!("../../../config/buckets/leadshop-security-logs/public-access-block.json"),
    ),
];

impl BucketSpec {
    /// Parses a bucket's documents, given as `(file name, text)`. Unknown file names are
    /// refused, so a typo cannot silently leave a bucket unconfigured.
    ///
    /// # Errors
    /// [`SpecError::Invalid`] naming the document and the problem.
    pub fn parse<'a>(
        name: &str,
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
        vars: &TemplateVars,
    ) -> Result<Self, SpecError> {
        let invalid = |document: &str, message: String| SpecError::Invalid {
            bucket: name.to_string(),
            document: document.to_string(),
            message,
        };
        let mut spec = Self {
            name: name.to_string(),
            versioning: None,
            encryption: None,
            policy: None,
            public_access_block: None,
            cors: None,
            lifecycle: None,
            logging: None,
            metrics: None,
        };
        let mut policy_text = None;
        for (file, text) in documents {
            match file {
                "versioning.json" => {
                    let doc: VersioningConfiguration =
                        serde_json::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
                    doc.validate().map_err(|m| invalid(file, m))?;
                    spec.versioning = Some(doc);
                }
                "encryption.json" => {
                    let doc: EncryptionConfiguration =
                        serde_json::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
                    doc.validate().map_err(|m| invalid(file, m))?;
                    spec.encryption = Some(doc);
                }
                "policy.json" => policy_text = Some(text),
                "public-access-block.json" => {
                    let doc: PublicAccessBlock =
                        serde_json::from_str(text).map_err(|e| invalid(file, e.to_string()))?;
                    spec.public_access_block = Some(doc);
                }
                "cors.json" => {
                    let doc = crate::cors::CorsConfiguration::parse(text)
                        .map_err(|e| invalid(file, e.to_string()))?;
                    spec.cors = Some(doc);
                }
                "lifecycle.json" => {
                    let doc = crate::lifecycle::LifecycleConfiguration::parse(text)
                        .map_err(|e| invalid(file, e.to_string()))?;
                    spec.lifecycle = Some(doc);
                }
                "logging.json" => {
                    let rendered = crate::template::render(
                        text,
                        &[
                            ("bucket", name),
                            ("account_id", &vars.account_id),
                            ("log_bucket", &vars.log_bucket),
                        ],
                    )
                    .map_err(|m| invalid(file, m))?;
                    let doc = crate::logging::BucketLoggingStatus::parse(&rendered)
                        .map_err(|e| invalid(file, e.to_string()))?;
                    spec.logging = Some(doc);
                }
                "metrics.json" => {
                    let doc = crate::metrics::MetricsConfigurations::parse(text)
                        .map_err(|m| invalid(file, m))?;
                    spec.metrics = Some(doc);
                }
                other => return Err(invalid(other, "unknown document name".into())),
            }
        }
        if let Some(text) = policy_text {
            // The policy's `${sse_algorithm}` is the bucket's own default encryption.
            let sse = spec
                .encryption
                .as_ref()
                .and_then(|e| e.rules.first())
                .map_or("AES256", |r| r.default.sse_algorithm.as_str());
            let rendered = crate::template::render(
                text,
                &[
                    ("bucket", name),
                    ("account_id", &vars.account_id),
                    ("sse_algorithm", sse),
                    // The local server is one `aws` partition; Terraform passes the real one.
                    ("partition", "aws"),
                    ("log_bucket", &vars.log_bucket),
                    ("source_bucket", &vars.source_bucket),
                ],
            )
            .map_err(|m| invalid("policy.json", m))?;
            let policy =
                Policy::parse(&rendered).map_err(|e| invalid("policy.json", e.to_string()))?;
            policy
                .check_bucket_policy(name)
                .map_err(|e| invalid("policy.json", e.to_string()))?;
            spec.policy = Some(rendered);
        }
        Ok(spec)
    }

    /// The `(file name, text)` documents of one bucket directory (`config/buckets/<bucket>/`),
    /// sorted by name, for [`BucketSpec::parse`].
    ///
    /// # Errors
    /// The directory or a file cannot be read; the message names the path.
    pub fn read_documents(dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
        fn named(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> std::io::Error + '_ {
            move |e| std::io::Error::new(e.kind(), format!("reading {}: {e}", path.display()))
        }
        let mut docs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(named(dir))? {
            let path = entry.map_err(named(dir))?.path();
            if path.is_file() {
                let file = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                docs.push((file, std::fs::read_to_string(&path).map_err(named(&path))?));
            }
        }
        docs.sort();
        Ok(docs)
    }

    /// The built-in `(file name, text)` documents of one bucket (empty for an unknown name).
    #[must_use]
    pub fn builtin_documents(bucket: &str) -> Vec<(String, String)> {
        BUILTIN_DOCUMENTS
            .iter()
            .filter(|(b, _, _)| *b == bucket)
            .map(|(_, f, t)| ((*f).to_string(), (*t).to_string()))
            .collect()
    }

    /// The built-in specs (see [`BUILTIN_DOCUMENTS`]).
    ///
    /// # Errors
    /// Only if a shipped document is broken, which a unit test rules out.
    pub fn builtin(vars: &TemplateVars) -> Result<Vec<Self>, SpecError> {
        let mut names: Vec<&str> = BUILTIN_DOCUMENTS.iter().map(|(b, _, _)| *b).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|b| {
                Self::parse(
                    b,
                    BUILTIN_DOCUMENTS
                        .iter()
                        .filter(|(n, _, _)| *n == b)
                        .map(|(_, f, t)| (*f, *t)),
                    vars,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VersioningStatus;

    #[test]
    fn builtin_specs_parse_and_enable_versioning() {
        let specs = BucketSpec::builtin(&TemplateVars::new("123456789012")).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["leadshop-assets", "leadshop-security-logs"]);
        for s in &specs {
            assert_eq!(
                s.versioning.as_ref().unwrap().status,
                VersioningStatus::Enabled
            );
            let enc = s.encryption.as_ref().expect("encryption.json is built in");
            assert_eq!(enc.rules[0].default.sse_algorithm, "AES256");
            assert_eq!(s.public_access_block, Some(PublicAccessBlock::all_on()));
            assert!(s.lifecycle.is_some(), "lifecycle.json is built in");
            let policy = s.policy.as_deref().expect("policy.json is built in");
            assert!(!policy.contains("${bucket}") && policy.contains("123456789012"));
        }
    }

    #[test]
    fn bad_documents_are_refused_with_their_name() {
        let vars = TemplateVars::new("123456789012");
        let e =
            BucketSpec::parse("b", [("versioning.json", r#"{"Status":"On"}"#)], &vars).unwrap_err();
        assert!(e.to_string().starts_with("b/versioning.json:"), "{e}");
        let e = BucketSpec::parse(
            "b",
            [(
                "versioning.json",
                r#"{"Status":"Enabled","MFADelete":"Enabled"}"#,
            )],
            &vars,
        )
        .unwrap_err();
        assert!(e.to_string().contains("MFADelete"), "{e}");
        let e =
            BucketSpec::parse("b", [("policy.json", r#"{"Statement": []}"#)], &vars).unwrap_err();
        assert!(e.to_string().starts_with("b/policy.json:"), "{e}");
        let e = BucketSpec::parse("b", [("policy.json", "${acount_id}")], &vars).unwrap_err();
        assert!(e.to_string().contains("acount_id"), "{e}");
        let e = BucketSpec::parse("b", [("versoning.json", "{}")], &vars).unwrap_err();
        assert!(e.to_string().contains("unknown document"), "{e}");
    }
}
