//! The access keys as a server holds them: a snapshot of keys.json, swapped when any process
//! changes the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use leadshop_store::MasterKeys;

use crate::access_keys::{Identity, KeyError, KeyPaths, bootstrap, load};
use crate::master_key::MasterSource;
use crate::snapshot::Snapshot;

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
        let current = Snapshot::load(paths.keys.clone(), "access keys", || {
            load(&paths, &master).map(KeySet::new)
        })?;
        Ok(Self {
            current,
            paths,
            master,
        })
    }

    /// The current keys, reloading keys.json if it changed since the last look (no file
    /// system work unless it did: see [`crate::snapshot`]). A file that
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
