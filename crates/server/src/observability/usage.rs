//! What the usage worker last saw, shared with `/metrics` and the console's dashboard.

use std::collections::BTreeMap;
use std::sync::Mutex;

use leadshop_store::ClassUsage;

use crate::monitoring::cost::Estimate;

/// What the worker last saw (console `/metrics` and dashboard).
#[derive(Debug, Default)]
pub struct UsageStatus {
    /// Storage by bucket and class, at the latest sample.
    pub storage: Mutex<BTreeMap<String, BTreeMap<String, ClassUsage>>>,
    /// The latest cost estimate.
    pub estimate: Mutex<Option<Estimate>>,
    /// When the last round finished (ms).
    pub last_round_ms: std::sync::atomic::AtomicI64,
}
