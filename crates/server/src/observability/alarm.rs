//! The budget alarm: when the month's actual cost crosses an ACTUAL threshold, or its forecast
//! a FORECASTED one, the alarm fires once for that threshold and month — a warning log line,
//! `leadshop_budget_alarms_total`, the console's banner, and an SNS-style JSON notification
//! POSTed to `budget.webhook_url`, retried until it is answered 2xx.
//!
//! What fired and what is still to be sent are kept in `<data-dir>/budget-alarms.json`
//! (0600, replaced atomically), written before anything is sent: a restart neither fires a
//! threshold twice nor forgets a notification.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use leadshop_spec::budget::Budget;
use serde::{Deserialize, Serialize};

use crate::monitoring::cost::Estimate;
use crate::webhook::Webhook;

/// Attempts at one notification before it is given up (logged as an error).
const MAX_ATTEMPTS: u32 = 20;

/// A notification still to be sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pending {
    /// The JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this time (ms, the server's clock).
    pub next_ms: i64,
}

/// What the alarm keeps on disk.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AlarmState {
    /// The billing month the thresholds below fired in.
    pub month: String,
    /// `ACTUAL>80`, `FORECASTED>100`, …: fired this month.
    pub fired: Vec<String>,
    /// Notifications not yet delivered.
    pub outbox: Vec<Pending>,
    /// How many alarms fired, ever, by threshold.
    #[serde(default)]
    pub total: std::collections::BTreeMap<String, u64>,
}

/// The alarm.
#[derive(Debug)]
pub struct Alarms {
    path: PathBuf,
    budget: Budget,
    webhook: Option<Webhook>,
    topic_arn: String,
    state: Mutex<AlarmState>,
}

fn save(path: &Path, state: &AlarmState) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(state).expect("serialisable");
    leadshop_keys::secret_file::write(path, &text)
}

impl Alarms {
    /// The alarm of `budget`, its state in `data_dir`.
    #[must_use]
    pub fn open(
        data_dir: &Path,
        budget: Budget,
        webhook: Option<Webhook>,
        topic_arn: String,
    ) -> Self {
        let path = data_dir.join("budget-alarms.json");
        let state = std::fs::read(&path)
            .ok()
            .and_then(|b| {
                serde_json::from_slice(&b)
                    .inspect_err(|e| tracing::error!(error = %e, path = %path.display(), "the budget alarm state does not parse; starting afresh"))
                    .ok()
            })
            .unwrap_or_default();
        Self {
            path,
            budget,
            webhook,
            topic_arn,
            state: Mutex::new(state),
        }
    }

    /// The budget.
    #[must_use]
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// What the alarm holds now.
    #[must_use]
    pub fn state(&self) -> AlarmState {
        self.state.lock().expect("alarm lock").clone()
    }

    /// Fires every threshold the estimate crosses that has not fired this month; returns
    /// those that fired.
    ///
    /// # Errors
    /// The state file cannot be written (nothing is sent then; the next round tries again).
    pub fn evaluate(&self, est: &Estimate, now_ms: i64) -> std::io::Result<Vec<String>> {
        let mut state = self.state.lock().expect("alarm lock");
        let mut next = state.clone();
        if next.month != est.month.label {
            next.month = est.month.label.clone();
            next.fired.clear();
        }
        let limit = self.budget.limit();
        let mut fired = Vec::new();
        for n in &self.budget.notifications {
            let value = if n.notification_type == "ACTUAL" {
                est.actual
            } else {
                est.forecast
            };
            let name = format!("{}>{}", n.notification_type, n.threshold);
            if value > limit * n.threshold / 100.0 && !next.fired.contains(&name) {
                next.fired.push(name.clone());
                *next.total.entry(name.clone()).or_default() += 1;
                let message = serde_json::json!({
                    "budgetName": self.budget.budget_name,
                    "month": est.month.label,
                    "notificationType": n.notification_type,
                    "comparisonOperator": n.comparison_operator,
                    "threshold": n.threshold,
                    "thresholdType": "PERCENTAGE",
                    "budgetLimit": limit,
                    "actualSpend": est.actual,
                    "forecastedSpend": est.forecast,
                    "unit": self.budget.budget_limit.unit,
                });
                let body = serde_json::json!({
                    "Type": "Notification",
                    "MessageId": format!("{}-{}-{}", est.month.label, n.notification_type, n.threshold),
                    "TopicArn": self.topic_arn,
                    "Subject": format!("AWS Budgets: {} has exceeded your alert threshold", self.budget.budget_name),
                    "Message": message.to_string(),
                    "Timestamp": crate::monitoring::protocol::iso_ms(now_ms),
                });
                if self.webhook.is_some() {
                    next.outbox.push(Pending {
                        body: body.to_string(),
                        attempts: 0,
                        next_ms: now_ms,
                    });
                }
                tracing::warn!(
                    budget = %self.budget.budget_name, month = %est.month.label,
                    threshold = %name, actual = est.actual, forecast = est.forecast, limit,
                    "budget alarm: the estimated S3 cost crossed a threshold"
                );
                fired.push(name);
            }
        }
        if next != *state {
            save(&self.path, &next)?;
            *state = next;
        }
        Ok(fired)
    }

    /// Queues a CloudWatch-style alarm state change (`ALARM`, `OK`) of another alarm than the
    /// budget's (the disk's) for the webhook, as CloudWatch publishes it to SNS; without a
    /// webhook it is only logged by the caller.
    ///
    /// # Errors
    /// The state file cannot be written.
    pub fn notify_alarm(
        &self,
        alarm_name: &str,
        new_state: &str,
        reason: &str,
        now_ms: i64,
    ) -> std::io::Result<()> {
        if self.webhook.is_none() {
            return Ok(());
        }
        let time = crate::monitoring::protocol::iso_ms(now_ms);
        let message = serde_json::json!({
            "AlarmName": alarm_name,
            "NewStateValue": new_state,
            "NewStateReason": reason,
            "StateChangeTime": time,
        });
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": format!("{alarm_name}-{new_state}-{now_ms}"),
            "TopicArn": self.topic_arn,
            "Subject": format!("{new_state}: \"{alarm_name}\""),
            "Message": message.to_string(),
            "Timestamp": time,
        });
        let mut state = self.state.lock().expect("alarm lock");
        let mut next = state.clone();
        next.outbox.push(Pending {
            body: body.to_string(),
            attempts: 0,
            next_ms: now_ms,
        });
        save(&self.path, &next)?;
        *state = next;
        Ok(())
    }

    /// Sends what is due in the outbox; a failure waits (doubling, up to 5 minutes) and is
    /// tried again.
    pub async fn deliver(&self, now_ms: i64) {
        let Some(webhook) = &self.webhook else {
            return;
        };
        let due: Vec<Pending> = self
            .state
            .lock()
            .expect("alarm lock")
            .outbox
            .iter()
            .filter(|p| p.next_ms <= now_ms)
            .cloned()
            .collect();
        for p in due {
            let result = webhook.post(&p.body).await;
            let mut state = self.state.lock().expect("alarm lock");
            let mut next = state.clone();
            let Some(slot) = next.outbox.iter().position(|q| q.body == p.body) else {
                continue;
            };
            match result {
                Ok(()) => {
                    next.outbox.remove(slot);
                }
                Err(e) => {
                    let q = &mut next.outbox[slot];
                    q.attempts += 1;
                    let wait = 1000i64 << q.attempts.min(8);
                    q.next_ms = now_ms + wait.min(300_000);
                    tracing::warn!(error = %e, attempts = q.attempts, "budget alarm notification not delivered; retrying");
                    if q.attempts >= MAX_ATTEMPTS {
                        tracing::error!(body = %q.body, "budget alarm notification given up after {MAX_ATTEMPTS} attempts");
                        next.outbox.remove(slot);
                    }
                }
            }
            if let Err(e) = save(&self.path, &next) {
                tracing::error!(error = %e, "cannot save the budget alarm state");
            }
            *state = next;
        }
    }
}
