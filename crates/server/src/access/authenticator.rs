//! The s3s side of authentication: an access key's secret, from the keys the server holds.

use std::sync::Arc;

use leadshop_keys::KeyStore;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// Secrets by access key id, for s3s's signature checks.
#[derive(Debug, Clone)]
pub struct Authenticator(pub Arc<KeyStore>);

#[async_trait::async_trait]
impl S3Auth for Authenticator {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.by_id(access_key) {
            Some(k) => Ok(SecretKey::from(k.secret_access_key.clone())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}
