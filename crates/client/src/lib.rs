//! The application's view of a storage endpoint: where it is, which CA to trust, which key
//! and bucket to use. Today it renders the environment that boto3, the AWS CLI and the AWS
//! SDKs read (`leadshop env`); the SDK-based client (upload, download, presign, fallback
//! outbox) grows here with its own issue.
//!
//! # Layout
//! - [`ClientEnv`]: the settings, and their rendering as shell `export` lines.
//! - [`remote`]: runbook operations (lockdown, recovery) on any S3 endpoint with the SDK.
//! - [`verify`]: a live bucket compared with its spec documents (`leadshop verify`).

pub mod bench;
pub mod remote;
pub mod verify;

use std::path::{Path, PathBuf};

/// Everything a client needs to reach one leadshop (or S3) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEnv {
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: String,
    /// `AWS_CA_BUNDLE`, when the endpoint uses a private CA.
    pub ca_bundle: Option<PathBuf>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_DEFAULT_REGION` and `AWS_REGION`.
    pub region: String,
    /// `AWS_S3_BUCKET_NAME`, the application's bucket (the seed's variable).
    pub bucket: String,
}

/// Why the environment could not be read from a data directory.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A file could not be read.
    #[error("cannot read {path}: {source} (is `leadshop serve --data-dir {dir}` running?)")]
    Read {
        /// The file.
        path: PathBuf,
        /// The data directory.
        dir: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A file has the wrong shape.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The credentials file has no such profile.
    #[error("no key named {0:?} in the credentials file (known: admin, app)")]
    NoSuchKey(String),
}

impl ClientEnv {
    /// Reads `<data-dir>/endpoints.json` and the `credentials` profile `key`.
    ///
    /// # Errors
    /// [`EnvError`] naming the file and what to do.
    pub fn from_data_dir(
        dir: &Path,
        key: &str,
        region: &str,
        bucket: &str,
    ) -> Result<Self, EnvError> {
        let read = |p: PathBuf| {
            std::fs::read_to_string(&p).map_err(|source| EnvError::Read {
                dir: dir.display().to_string(),
                path: p,
                source,
            })
        };
        let endpoints_path = dir.join("endpoints.json");
        let endpoints: serde_json::Value = serde_json::from_str(&read(endpoints_path.clone())?)
            .map_err(|e| EnvError::Invalid {
                path: endpoints_path.clone(),
                message: e.to_string(),
            })?;
        let endpoint_url = endpoints
            .get("s3")
            .and_then(|v| v.as_str())
            .ok_or_else(|| EnvError::Invalid {
                path: endpoints_path,
                message: "no \"s3\" endpoint".into(),
            })?
            .to_string();
        let creds = read(dir.join("credentials"))?;
        let (id, secret) = leadshop_spec::credentials::profile(&creds, key)
            .ok_or_else(|| EnvError::NoSuchKey(key.to_string()))?;
        let ca = dir.join("tls").join("ca.pem");
        let ca_bundle = ca.exists().then(|| std::path::absolute(&ca).unwrap_or(ca));
        Ok(Self {
            endpoint_url,
            ca_bundle,
            access_key_id: id,
            secret_access_key: secret,
            region: region.to_string(),
            bucket: bucket.to_string(),
        })
    }

    /// Shell `export` lines (POSIX quoting).
    #[must_use]
    pub fn to_exports(&self) -> String {
        self.vars()
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect()
    }

    /// A `.env` file, as python-dotenv (and most dotenv readers) read it: `KEY="value"`, with
    /// `\` and `"` escaped.
    #[must_use]
    pub fn to_dotenv(&self) -> String {
        self.vars()
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"\n", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect()
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![("AWS_ENDPOINT_URL", self.endpoint_url.clone())];
        if let Some(ca) = &self.ca_bundle {
            vars.push(("AWS_CA_BUNDLE", ca.display().to_string()));
        }
        vars.extend([
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_S3_BUCKET_NAME", self.bucket.clone()),
        ]);
        vars
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_quoted_and_complete() {
        let env = ClientEnv {
            endpoint_url: "https://127.0.0.1:9443".into(),
            ca_bundle: Some("/d/tls/ca.pem".into()),
            access_key_id: "AKIA".into(),
            secret_access_key: "a'b".into(),
            region: "us-east-1".into(),
            bucket: "leadshop-assets".into(),
        };
        let out = env.to_exports();
        assert!(out.contains("export AWS_ENDPOINT_URL='https://127.0.0.1:9443'\n"));
        assert!(out.contains("export AWS_SECRET_ACCESS_KEY='a'\\''b'\n"));
        assert!(out.contains("export AWS_S3_BUCKET_NAME='leadshop-assets'\n"));
        let dotenv = ClientEnv {
            secret_access_key: "a\"b\\c".into(),
            ..env
        }
        .to_dotenv();
        assert!(dotenv.contains("AWS_ENDPOINT_URL=\"https://127.0.0.1:9443\"\n"));
        assert!(dotenv.contains("AWS_SECRET_ACCESS_KEY=\"a\\\"b\\\\c\"\n"));
        assert!(!dotenv.contains("export"));
    }
}
