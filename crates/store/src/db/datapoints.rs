//! What monitoring needs of the engine: durable metric datapoints (a statistic set per series
//! and timestamp, kept in their own table, so they survive restarts and are pruned by age),
//! and the storage usage of every bucket by storage class.
//!
//! A series is an opaque string (the server encodes namespace, metric name and dimensions in
//! it); the engine only orders, merges and prunes.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const DATAPOINTS: TableDefinition<(&str, i64), &[u8]> =
    TableDefinition::new("datapoints");

/// The datapoints table, read-only.
type DatapointsTable = redb::ReadOnlyTable<(&'static str, i64), &'static [u8]>;

/// A statistic set: what CloudWatch keeps of a datapoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// How many values.
    pub count: f64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Stat {
    /// One value.
    #[must_use]
    pub fn one(v: f64) -> Self {
        Self {
            count: 1.0,
            sum: v,
            min: v,
            max: v,
        }
    }

    /// Both sets as one.
    #[must_use]
    pub fn merge(self, o: Self) -> Self {
        Self {
            count: self.count + o.count,
            sum: self.sum + o.sum,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
        }
    }

    fn encode(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, v) in [self.count, self.sum, self.min, self.max]
            .into_iter()
            .enumerate()
        {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode(b: &[u8]) -> Result<Self, StoreError> {
        if b.len() != 32 {
            return Err(StoreError::Corrupt("a datapoint is not 32 bytes".into()));
        }
        let f = |i: usize| f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok(Self {
            count: f(0),
            sum: f(1),
            min: f(2),
            max: f(3),
        })
    }
}

/// Bytes and versions of one storage class in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassUsage {
    /// Bytes stored (every version, current and noncurrent).
    pub bytes: u64,
    /// Versions stored (delete markers not counted).
    pub objects: u64,
}

/// The datapoints table of a read transaction; `None` before the first datapoint.
fn datapoints_table(tx: &redb::ReadTransaction) -> Result<Option<DatapointsTable>, StoreError> {
    match tx.open_table(DATAPOINTS) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Records datapoints: each is merged into what the series has at that timestamp
    /// (`merge`), or replaces it (a gauge sampled again).
    ///
    /// # Errors
    /// Database errors.
    pub fn record_datapoints(
        &self,
        points: Vec<(String, i64, Stat)>,
        merge: bool,
    ) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        self.group.run(&self.db, move |tx| {
            let mut table = tx.open_table(DATAPOINTS)?;
            for (series, ts, stat) in &points {
                let stat = match table.get((series.as_str(), *ts))? {
                    Some(old) if merge => Stat::decode(old.value())?.merge(*stat),
                    _ => *stat,
                };
                table.insert((series.as_str(), *ts), stat.encode().as_slice())?;
            }
            Ok(())
        })
    }

    /// The datapoints of `series` with `from_ms <= timestamp < to_ms`, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn datapoints(
        &self,
        series: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, Stat)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = datapoints_table(&tx)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((series, from_ms)..(series, to_ms))? {
            let (k, v) = entry?;
            out.push((k.value().1, Stat::decode(v.value())?));
        }
        Ok(out)
    }

    /// Every series with at least one datapoint, and its latest timestamp.
    ///
    /// # Errors
    /// Database errors.
    pub fn series(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = datapoints_table(&tx)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut from: Option<String> = None;
        loop {
            // One seek per series: to the first key after the last one's newest point.
            let next = match &from {
                None => table.first()?,
                Some(s) => table
                    .range((Bound::Excluded((s.as_str(), i64::MAX)), Bound::Unbounded))?
                    .next()
                    .transpose()?,
            };
            let Some((k, _)) = next else { break };
            let series = k.value().0.to_string();
            let last = table
                .range((series.as_str(), i64::MIN)..=(series.as_str(), i64::MAX))?
                .next_back()
                .transpose()?
                .map_or(i64::MIN, |(k, _)| k.value().1);
            out.push((series.clone(), last));
            from = Some(series);
        }
        Ok(out)
    }

    /// Removes the datapoints of each series older than `keep_from(series)`; returns how many.
    ///
    /// # Errors
    /// Database errors.
    pub fn prune_datapoints(
        &self,
        keep_from: impl Fn(&str) -> i64 + Send + 'static,
    ) -> Result<u64, StoreError> {
        let series = self.series()?;
        self.group.run(&self.db, move |tx| {
            let mut table = tx.open_table(DATAPOINTS)?;
            let mut removed = 0;
            for (s, _) in &series {
                let cutoff = keep_from(s);
                let old: Vec<i64> = table
                    .range((s.as_str(), i64::MIN)..(s.as_str(), cutoff))?
                    .map(|e| e.map(|(k, _)| k.value().1))
                    .collect::<Result<_, _>>()?;
                for ts in old {
                    table.remove((s.as_str(), ts))?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
    }
}
