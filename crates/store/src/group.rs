//! Group commit: concurrent writers share one redb write transaction, so one commit (one
//! fsync) covers all the writes that queued up while the previous commit was on disk.
//!
//! Leader/follower on a mutex: a writer queues its operation, then takes the leader lock.
//! If a previous leader already ran it, the result is waiting; otherwise this writer drains
//! the queue, runs every queued operation in one transaction, commits, and hands out the
//! results. Nothing waits on a timer, so a lone writer commits at once.
//!
//! Operations check everything that can refuse them (missing bucket, failed precondition, …)
//! before they change a table, so a refused operation leaves the batch's transaction as it
//! found it. A storage error is different: the transaction is dropped (aborted) and every
//! writer of the batch gets the error.

use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use redb::{Database, WriteTransaction};

use crate::StoreError;

type Output = Box<dyn Any + Send>;
type Op = Box<dyn FnOnce(&WriteTransaction) -> Result<Output, StoreError> + Send>;

struct Slot {
    op: Mutex<Option<Op>>,
    result: Mutex<Option<Result<Output, StoreError>>>,
}

/// The queue and the leader lock.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Arc<Slot>>>,
    leader: Mutex<()>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another writer must not wedge the engine; the data behind these locks is
    // a queue and results, which stay consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommit {
    /// Runs `op` in a write transaction shared with concurrent writers and returns once that
    /// transaction is durable (or failed).
    pub(crate) fn run<T, F>(&self, db: &Database, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let slot = Arc::new(Slot {
            op: Mutex::new(Some(Box::new(move |tx: &WriteTransaction| {
                op(tx).map(|v| Box::new(v) as Output)
            }))),
            result: Mutex::new(None),
        });
        lock(&self.queue).push(slot.clone());
        let leader = lock(&self.leader);
        let done = lock(&slot.result).take();
        let result = match done {
            Some(r) => r,
            None => {
                let batch = std::mem::take(&mut *lock(&self.queue));
                Self::commit_batch(db, &batch);
                drop(leader);
                lock(&slot.result).take().unwrap_or_else(|| {
                    Err(StoreError::CommitFailed("the commit leader failed".into()))
                })
            }
        };
        result.map(|v| *v.downcast::<T>().expect("each slot holds its own type"))
    }

    fn commit_batch(db: &Database, batch: &[Arc<Slot>]) {
        let fail_all = |msg: String| {
            for slot in batch {
                *lock(&slot.result) = Some(Err(StoreError::CommitFailed(msg.clone())));
            }
        };
        let tx = match db.begin_write() {
            Ok(tx) => tx,
            Err(e) => return fail_all(e.to_string()),
        };
        let mut results = Vec::with_capacity(batch.len());
        for slot in batch {
            let op = lock(&slot.op).take().expect("an operation runs once");
            let r = op(&tx);
            if let Err(e) = &r
                && !e.is_refusal()
            {
                // The failed operation may have changed tables half-way: abort everything.
                drop(tx);
                return fail_all(e.to_string());
            }
            results.push(r);
        }
        if let Err(e) = tx.commit() {
            return fail_all(e.to_string());
        }
        for (slot, r) in batch.iter().zip(results) {
            *lock(&slot.result) = Some(r);
        }
    }
}
