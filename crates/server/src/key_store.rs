//! The access keys as the server holds them: a snapshot of keys.json, reloaded when any
//! process changes the file, and the s3s side of authentication (secrets by access key id).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use leadshop_store::MasterKeys;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::keys::{Identity, KeyError, KeyPaths, bootstrap, load};
use crate::master_key::MasterSource;
use crate::record_file::Snapshot;

/// The keys the server accepts, reloaded when keys.json changes.
#[derive(Debug)]
pub struct KeyStore {
    paths: KeyPaths,
    master: MasterKeys,
    current: Snapshot<KeySet>,
}

/// One loaded version of keys.json.
#[derive(Debug, Default)]
pub struct KeySet {
    by_id: HashMap<String, Arc<Identity>>,
    by_name: BTreeMap<String, Arc<Identity>>,
}

impl KeySet {
    fn new(identities: Vec<Identity>) -> Self {
        let mut set = Self::default();
        for i in identities {
            let i = Arc::new(i);
            set.by_id.insert(i.access_key_id.clone(), i.clone());
            set.by_name.insert(i.name.clone(), i);
        }
        set
    }
}

impl KeyStore {
    /// Bootstraps (at first start) and loads the keys of a data directory.
    ///
    /// # Errors
    /// [`KeyError`] naming the file and the problem.
    pub fn open(data_dir: &Path, master: MasterKeys) -> Result<Self, KeyError> {
        let paths = KeyPaths::new(data_dir);
        bootstrap(&paths, &MasterSource::Held(master.clone()))?;
        let set = KeySet::new(load(&paths, &master)?);
        Ok(Self {
            current: Snapshot::new(paths.keys.clone(), "access keys", set),
            paths,
            master,
        })
    }

    /// The current keys, reloading keys.json if it changed since the last look. A file that
    /// fails to load keeps the previous keys in force (and is logged), so a broken edit
    /// cannot lock everyone out or let anyone in.
    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .get(|| load(&self.paths, &self.master).map(KeySet::new))
    }

    /// Reloads keys.json at the next look even if it did not change (after a new master key
    /// was installed, a record it could not open before may open now).
    pub fn reload(&self) {
        self.current.force_reload();
    }

    /// The key with this name.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<Arc<Identity>> {
        self.current().by_name.get(name).cloned()
    }

    /// The key with this access key id.
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<Arc<Identity>> {
        self.current().by_id.get(id).cloned()
    }
}

/// The s3s authentication side: secrets by access key id.
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
