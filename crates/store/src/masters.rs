//! The master keys a process holds: the *current* one, which wraps every new data key (and
//! seals every new secret), and the earlier ones it can still open while an online rotation
//! re-wraps what they wrapped. Shared by the engine, the access-key store and the keyring, so
//! installing a rotation's new key switches all three at once.

use std::sync::{Arc, PoisonError, RwLock};

use crate::crypto;
use crate::data::MasterKey;
use crate::error::StoreError;
use crate::record::Envelope;
use crate::record::SseAlgorithm;

/// A cheap-to-clone handle on the master keys (all clones see the same keys).
#[derive(Clone)]
pub struct MasterKeys(Arc<RwLock<Held>>);

struct Held {
    current: Arc<MasterKey>,
    /// Keys replaced by [`MasterKeys::install`], kept for reading until the process ends.
    previous: Vec<Arc<MasterKey>>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.read();
        f.debug_struct("MasterKeys")
            .field("current", &held.current.id)
            .field(
                "previous",
                &held.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl MasterKeys {
    /// Holds one key.
    #[must_use]
    pub fn new(current: MasterKey) -> Self {
        Self(Arc::new(RwLock::new(Held {
            current: Arc::new(current),
            previous: Vec::new(),
        })))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        // The data behind the lock is replaced whole, so a poisoned lock is still consistent.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key new data keys and secrets are wrapped with.
    #[must_use]
    pub fn current(&self) -> Arc<MasterKey> {
        self.read().current.clone()
    }

    /// The held key with this id (current or earlier).
    #[must_use]
    pub fn get(&self, id: &str) -> Option<Arc<MasterKey>> {
        let held = self.read();
        if held.current.id == id {
            return Some(held.current.clone());
        }
        held.previous.iter().find(|k| k.id == id).cloned()
    }

    /// Makes `next` the current key; the current one stays readable. Installing the current
    /// key again changes nothing.
    pub fn install(&self, next: MasterKey) {
        let mut held = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if held.current.id == next.id {
            return;
        }
        let next = Arc::new(next);
        held.previous.retain(|k| k.id != next.id);
        let old = std::mem::replace(&mut held.current, next);
        held.previous.push(old);
    }

    /// Ids of the held keys other than the current one.
    #[must_use]
    pub fn previous_ids(&self) -> Vec<String> {
        self.read().previous.iter().map(|k| k.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;

    fn key(id: &str) -> MasterKey {
        MasterKey {
            id: id.into(),
            key: Key::generate().unwrap(),
        }
    }

    #[test]
    fn install_switches_current_and_keeps_the_old_key_readable() {
        let keys = MasterKeys::new(key("mk-1"));
        let other = keys.clone();
        keys.install(key("mk-2"));
        assert_eq!(other.current().id, "mk-2");
        assert!(other.get("mk-1").is_some() && other.get("mk-2").is_some());
        assert!(other.get("mk-3").is_none());
        keys.install(key("mk-2"));
        assert_eq!(keys.previous_ids(), vec!["mk-1".to_string()]);
    }
}

/// What a rotation pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rewrapped {
    /// Data keys re-wrapped (object segments and multipart parts).
    pub rewrapped: usize,
    /// Data keys already under the current master key.
    pub already: usize,
    /// Data keys wrapped by customer (SSE-C) or keyring (SSE-KMS) keys, which the master key
    /// does not wrap (keyring keys are re-sealed with the keyring).
    pub customer: usize,
}

impl std::ops::AddAssign for Rewrapped {
    fn add_assign(&mut self, o: Self) {
        self.rewrapped += o.rewrapped;
        self.already += o.already;
        self.customer += o.customer;
    }
}

/// Re-wraps one envelope under the current master key if an earlier one wraps it; returns
/// whether it changed.
pub(crate) fn rewrap(
    env: &mut Envelope,
    masters: &MasterKeys,
    out: &mut Rewrapped,
) -> Result<bool, StoreError> {
    if env.algorithm != SseAlgorithm::S3 {
        out.customer += 1;
        return Ok(false);
    }
    let new = masters.current();
    if env.key_id == new.id {
        out.already += 1;
        return Ok(false);
    }
    let old = masters.get(&env.key_id).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "a data key is wrapped by master key {}, which is not loaded (current: {})",
            env.key_id, new.id
        ))
    })?;
    let wrapped = hex::decode(&env.wrapped_key)
        .map_err(|_| StoreError::Corrupt("malformed envelope".into()))?;
    let dek = crypto::unwrap_key(&old.key, &old.id, &wrapped)
        .map_err(|e| StoreError::Corrupt(format!("unwrapping a data key: {e}")))?;
    let again = crypto::wrap_key(&new.key, &new.id, &dek)
        .map_err(|e| StoreError::Corrupt(format!("wrapping a data key: {e}")))?;
    env.wrapped_key = hex::encode(again);
    env.key_id.clone_from(&new.id);
    out.rewrapped += 1;
    Ok(true)
}

/// Puts the envelopes a commit is about to store under the current master key (a write that
/// began before a rotation switched keys). Called inside the commit's transaction.
pub(crate) fn to_current<'a>(
    masters: Option<&MasterKeys>,
    envelopes: impl IntoIterator<Item = &'a mut Envelope>,
) -> Result<(), StoreError> {
    let Some(masters) = masters else {
        return Ok(());
    };
    let mut out = Rewrapped::default();
    for env in envelopes {
        rewrap(env, masters, &mut out)?;
    }
    Ok(())
}
