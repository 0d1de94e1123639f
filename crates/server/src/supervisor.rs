//! Background work's machinery: a [`Worker`] runs beside the request path on the server's task
//! tracker, under a [`Supervisor`] that restarts it after a panic and stops it at shutdown.
//! The workers themselves are in [`crate::workers`]; the event subscribers' consumers in
//! [`crate::events`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// Tells a worker the server is stopping.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once the server is stopping (at once if it already is).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }

    /// Whether the server is stopping.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
}

/// A piece of background work.
#[async_trait::async_trait]
pub trait Worker: Send + Sync + 'static {
    /// A short name for logs (`rotation`, `events:metrics`).
    fn name(&self) -> String;

    /// Does the work until `stop` fires, then returns. Whatever must survive a restart after
    /// a panic is kept in `self`, not in locals.
    async fn run(&self, stop: Stop);
}

/// The longest wait before a worker that panicked is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Runs workers and stops them.
#[derive(Debug)]
pub struct Supervisor {
    tracker: TaskTracker,
    stop: watch::Sender<bool>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// A supervisor with no workers yet.
    #[must_use]
    pub fn new() -> Self {
        Self {
            tracker: TaskTracker::new(),
            stop: watch::channel(false).0,
        }
    }

    /// Starts a worker; a panic in it is logged and the worker started again, after a wait
    /// that doubles up to a minute, until the supervisor stops.
    pub fn spawn(&self, worker: Arc<dyn Worker>) {
        let stop = Stop(self.stop.subscribe());
        self.tracker.spawn(supervise(worker, stop));
    }

    /// Tells every worker to stop and waits up to `grace` for them to return.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("background workers did not stop within {grace:?}");
        }
    }
}

async fn supervise(worker: Arc<dyn Worker>, mut stop: Stop) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let run = {
            let (worker, stop) = (worker.clone(), stop.clone());
            tokio::spawn(async move { worker.run(stop).await })
        };
        match run.await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(worker = %worker.name(), error = %e, "background worker failed; starting it again in {backoff:?}");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.stopped() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Default)]
    struct Flaky {
        runs: AtomicU32,
    }

    #[async_trait::async_trait]
    impl Worker for Flaky {
        fn name(&self) -> String {
            "flaky".into()
        }

        async fn run(&self, mut stop: Stop) {
            if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first run fails");
            }
            stop.stopped().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_is_restarted_and_stops_at_shutdown() {
        let sup = Supervisor::new();
        let flaky = Arc::new(Flaky::default());
        sup.spawn(flaky.clone());
        // Paused time: the backoff passes as soon as every task waits.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(flaky.runs.load(Ordering::SeqCst), 2, "restarted once");
        sup.shutdown(Duration::from_secs(5)).await;
        assert!(sup.tracker.is_empty(), "every worker returned");
    }
}
