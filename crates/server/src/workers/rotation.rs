//! The master-key rotation watcher: when `<master>.next` appears (or is there at start), it
//! installs the new key in the keys the engine, the access keys and the keyring share, and
//! finishes the rotation while requests go on ([`leadshop_keys::rotate`] has the procedure).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadshop_store::{MasterKeys, Store};

use leadshop_keys::rotate::{RotateError, Rotation, finish};
use leadshop_keys::{KeyStore, Locations, master_key};

use super::{Stop, Worker};

/// How often the server looks for `<master>.next`.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// How long the server waits before retrying a rotation that failed.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The rotation watcher.
pub struct RotationWatcher {
    /// What the rotation touches: the engine's data keys, the access keys, the key files.
    target: Target,
    masters: MasterKeys,
    /// The new key of a rotation that failed after it was installed: retried even if its
    /// file has vanished, since data may already be under it (kept across restarts).
    pending: Mutex<Option<Vec<u8>>>,
}

impl RotationWatcher {
    /// A watcher over the engine, the access keys and the master keys they share.
    #[must_use]
    pub fn new(
        store: Arc<Store>,
        keys: Arc<KeyStore>,
        locations: Locations,
        masters: MasterKeys,
    ) -> Self {
        Self {
            target: Target {
                store,
                keys,
                locations,
            },
            masters,
            pending: Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Worker for RotationWatcher {
    fn name(&self) -> String {
        "rotation".into()
    }

    async fn run(&self, mut stop: Stop) {
        let (target, masters) = (&self.target, &self.masters);
        let next = master_key::next_path(&target.locations.master_key);
        let mut retry_at: Option<Instant> = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                () = stop.stopped() => return,
            }
            if retry_at.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            let pending = self.pending.lock().expect("pending lock").clone();
            let text = match std::fs::read(&next) {
                Ok(text) => text,
                Err(_) => match pending {
                    Some(text) => text,
                    None => continue,
                },
            };
            let (st, m, t) = (target.clone(), masters.clone(), text.clone());
            let failure =
                match tokio::task::spawn_blocking(move || rotate_online(&st, &m, &t)).await {
                    Ok(Ok(r)) => {
                        retry_at = None;
                        *self.pending.lock().expect("pending lock") = None;
                        tracing::info!(
                            old = %r.old_id,
                            new = %r.new_id,
                            rewrapped = r.data_keys.rewrapped,
                            already = r.data_keys.already,
                            secrets = r.secrets,
                            kms_keys = r.kms_keys,
                            retired = %r.retired.display(),
                            "master key rotated online"
                        );
                        continue;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => format!("panicked: {e}"),
                };
            // Keep the key if it was installed: data may be under it already.
            let installed =
                master_key::parse(&next, &text).is_ok_and(|k| masters.current().id == k.id);
            *self.pending.lock().expect("pending lock") = installed.then_some(text);
            tracing::error!(error = %failure, "master-key rotation failed; retrying in {RETRY_AFTER:?} (every object stays readable meanwhile)");
            retry_at = Some(Instant::now() + RETRY_AFTER);
        }
    }
}

/// What an online rotation touches.
#[derive(Clone)]
struct Target {
    store: Arc<Store>,
    keys: Arc<KeyStore>,
    locations: Locations,
}

fn rotate_online(
    target: &Target,
    masters: &MasterKeys,
    next_text: &[u8],
) -> Result<Rotation, RotateError> {
    let locations = &target.locations;
    let next = master_key::next_path(&locations.master_key);
    let new = master_key::parse(&next, next_text).map_err(|source| RotateError::Io {
        context: format!("loading {}", next.display()),
        source,
    })?;
    // Already current when the server started with `.next` present: a resumed rotation.
    let resumed = masters.current().id == new.id;
    tracing::info!(new = %new.id, resumed, "rotating the master key online");
    masters.install(new);
    // A key sealed under the new key by the CLI before this install may open now.
    target.keys.reload();
    finish(
        locations,
        &target.store,
        masters,
        next_text,
        resumed,
        true,
        &mut |_| {},
    )
}
