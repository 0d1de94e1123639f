//! Master-key rotation: every data key wrapped by an earlier master key is re-wrapped by the
//! current one; object data is never rewritten.
//!
//! Online, while writes continue:
//! - [`crate::MasterKeys::install`] makes the new key current: every data file created after
//!   that is wrapped by it;
//! - a write that began under the old key is re-wrapped inside its own commit
//!   ([`crate::masters::to_current`]),
//!   so nothing committed after the switch is under the old key;
//! - [`Store::rewrap_to_current`] walks the versions and parts tables in batches, each a share
//!   of a group commit (writers are never blocked for long), then checks that no envelope
//!   under another master key is left.
//!
//! Every step is idempotent: a crash anywhere leaves each envelope under the old or the new
//! key, both held until the rotation finishes, and running it again completes it.

use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::masters::{MasterKeys, Rewrapped, rewrap};
use crate::record::SseAlgorithm;
use crate::record::{self, Envelope, PartRecord, VersionRecord};
use crate::{Store, StoreError};

/// Records per shared commit in [`Store::rewrap_to_current`].
pub const REWRAP_BATCH: usize = 256;

fn version_envelopes(
    rec: &mut VersionRecord,
    masters: &MasterKeys,
    out: &mut Rewrapped,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for env in rec.segments.iter_mut().filter_map(|s| s.envelope.as_mut()) {
        changed |= rewrap(env, masters, out)?;
    }
    Ok(changed)
}

fn part_envelope(
    rec: &mut PartRecord,
    masters: &MasterKeys,
    out: &mut Rewrapped,
) -> Result<bool, StoreError> {
    match rec.envelope.as_mut() {
        Some(env) => rewrap(env, masters, out),
        None => Ok(false),
    }
}

type Change<T> = fn(&mut T, &MasterKeys, &mut Rewrapped) -> Result<bool, StoreError>;

/// One batch: up to `batch` records after `cursor`; returns the last key seen (None at the
/// end of the table).
fn rewrite_batch<T: record::Record>(
    tx: &redb::WriteTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    cursor: Option<&[u8]>,
    batch: usize,
    masters: &MasterKeys,
    change: Change<T>,
    out: &mut Rewrapped,
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut t = tx.open_table(table)?;
    let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
    let mut updates = Vec::new();
    let mut last = None;
    for entry in t.range::<&[u8]>((start, Bound::Unbounded))?.take(batch) {
        let (k, v) = entry?;
        let mut rec: T = record::decode(v.value())?;
        if change(&mut rec, masters, out)? {
            updates.push((k.value().to_vec(), record::encode(&rec)));
        }
        last = Some(k.value().to_vec());
    }
    for (k, v) in updates {
        t.insert(k.as_slice(), v.as_slice())?;
    }
    Ok(last)
}

impl Store {
    fn rewrap_table<T: record::Record + 'static>(
        &self,
        masters: &MasterKeys,
        table: TableDefinition<'static, &'static [u8], &'static [u8]>,
        batch: usize,
        change: Change<T>,
        on_batch: &mut dyn FnMut(Rewrapped),
    ) -> Result<Rewrapped, StoreError> {
        let mut total = Rewrapped::default();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let masters = masters.clone();
            let from = cursor.take();
            let (last, counts) = self.group.run(&self.db, move |tx| {
                let mut out = Rewrapped::default();
                let last = rewrite_batch(
                    tx,
                    table,
                    from.as_deref(),
                    batch,
                    &masters,
                    change,
                    &mut out,
                )?;
                Ok((last, out))
            })?;
            total += counts;
            on_batch(total);
            match last {
                Some(k) => cursor = Some(k),
                None => return Ok(total),
            }
        }
    }

    /// Envelopes under a master key other than the current one (read-only check).
    fn not_current(&self, masters: &MasterKeys) -> Result<usize, StoreError> {
        let current = masters.current().id.clone();
        let under_other =
            |env: &Envelope| env.algorithm == SseAlgorithm::S3 && env.key_id != current;
        let tx = self.db.begin_read()?;
        let mut n = 0;
        for entry in tx.open_table(crate::db::VERSIONS)?.iter()? {
            let rec: VersionRecord = record::decode(entry?.1.value())?;
            n += rec
                .segments
                .iter()
                .filter_map(|s| s.envelope.as_ref())
                .filter(|e| under_other(e))
                .count();
        }
        for entry in tx.open_table(crate::db::PARTS)?.iter()? {
            let rec: PartRecord = record::decode(entry?.1.value())?;
            n += rec
                .envelope
                .as_ref()
                .filter(|e| under_other(e))
                .iter()
                .count();
        }
        Ok(n)
    }

    /// Re-wraps every data key under an earlier master key with the current one, `batch`
    /// records per shared commit, while other writes go on; then checks that none is left.
    /// Safe to run again after a crash or an error (it finishes what is left).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an envelope under a key the engine does not hold, or one
    /// that key cannot open (batches before it stay re-wrapped, which is harmless); database
    /// errors. Without master keys (benchmark build) there is nothing to do.
    pub fn rewrap_to_current(&self, batch: usize) -> Result<Rewrapped, StoreError> {
        self.rewrap_to_current_with(batch, &mut |_| {})
    }

    /// [`Self::rewrap_to_current`], telling `on_batch` the running totals after every commit
    /// (a progress line).
    ///
    /// # Errors
    /// As [`Self::rewrap_to_current`].
    pub fn rewrap_to_current_with(
        &self,
        batch: usize,
        on_batch: &mut dyn FnMut(Rewrapped),
    ) -> Result<Rewrapped, StoreError> {
        let Some(masters) = self.master.clone() else {
            return Ok(Rewrapped::default());
        };
        let batch = batch.max(1);
        let mut total =
            // Straight into the table, not through `VersionsMut`: a re-wrap changes envelopes
            // only, never a size or a class, so the usage totals stay as they are.
            self.rewrap_table(&masters, crate::db::VERSIONS, batch, version_envelopes, on_batch)?;
        let versions = total;
        total += self.rewrap_table(
            &masters,
            crate::db::PARTS,
            batch,
            part_envelope,
            &mut |parts| {
                let mut sum = versions;
                sum += parts;
                on_batch(sum);
            },
        )?;
        // Writes re-wrap inside their commit (to_current), so one pass leaves nothing behind;
        // check rather than trust it, since the old key is about to be dropped.
        let left = self.not_current(&masters)?;
        if left > 0 {
            return Err(StoreError::Corrupt(format!(
                "{left} data keys are still under an earlier master key after re-wrapping"
            )));
        }
        Ok(total)
    }
}
