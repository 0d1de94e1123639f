//! Master-key rotation: every data key wrapped by the old master key is re-wrapped by the new
//! one, in one metadata transaction; object data is never rewritten. Re-running it finishes
//! an interrupted rotation (envelopes already under the new key are left alone).

use redb::{ReadableTable, TableDefinition};

use crate::crypto;
use crate::data::{MasterKey, SSE_C_ALGORITHM};
use crate::record::{self, Envelope, PartRecord, VersionRecord};
use crate::{Store, StoreError};

/// What a rotation changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewrapped {
    /// Data keys re-wrapped (object segments and multipart parts).
    pub rewrapped: usize,
    /// Data keys already under the new master key (an earlier, interrupted run).
    pub already: usize,
    /// Data keys wrapped by customer (SSE-C) or keyring (SSE-KMS) keys, which the master key
    /// does not wrap (keyring keys are re-sealed with the keyring).
    pub customer: usize,
}

fn rewrap(
    env: &mut Envelope,
    old: &MasterKey,
    new: &MasterKey,
    out: &mut Rewrapped,
) -> Result<bool, StoreError> {
    if env.algorithm == SSE_C_ALGORITHM || env.algorithm == crate::data::SSE_KMS_ALGORITHM {
        out.customer += 1;
        return Ok(false);
    }
    if env.key_id == new.id {
        out.already += 1;
        return Ok(false);
    }
    if env.key_id != old.id {
        return Err(StoreError::Corrupt(format!(
            "a data key is wrapped by master key {}, neither the old ({}) nor the new ({})",
            env.key_id, old.id, new.id
        )));
    }
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

/// Rewrites the records of one table whose envelopes `change` re-wraps.
fn rewrite<T: serde::Serialize + serde::de::DeserializeOwned>(
    tx: &redb::WriteTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    mut change: impl FnMut(&mut T) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(table)?;
    let mut updates = Vec::new();
    for entry in t.iter()? {
        let (k, v) = entry?;
        let mut rec: T = record::decode(v.value())?;
        if change(&mut rec)? {
            updates.push((k.value().to_vec(), record::encode(&rec)));
        }
    }
    for (k, v) in updates {
        t.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(())
}

impl Store {
    /// Re-wraps every data key under `old` with `new`, atomically (one transaction: a crash
    /// leaves all or none re-wrapped). Run with the server stopped.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an envelope under an unknown key or one `old` cannot open;
    /// database errors. Nothing is changed then.
    pub fn rewrap_master(&self, old: &MasterKey, new: &MasterKey) -> Result<Rewrapped, StoreError> {
        let mut out = Rewrapped::default();
        let tx = self.db.begin_write()?;
        rewrite::<VersionRecord>(&tx, crate::db::VERSIONS, |rec| {
            let mut changed = false;
            for seg in &mut rec.segments {
                if let Some(env) = seg.envelope.as_mut() {
                    changed |= rewrap(env, old, new, &mut out)?;
                }
            }
            Ok(changed)
        })?;
        rewrite::<PartRecord>(&tx, crate::db::PARTS, |rec| match rec.envelope.as_mut() {
            Some(env) => rewrap(env, old, new, &mut out),
            None => Ok(false),
        })?;
        tx.commit().map_err(redb::Error::from)?;
        Ok(out)
    }
}
