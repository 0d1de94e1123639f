//! `GET /api/dashboard`: what the console's dashboard charts — each bucket's size by storage
//! class and object count per day (the last 30 days), request metrics per minute (the last
//! hour) of buckets with a metrics configuration, and the month's cost day by day against the
//! budget, with the alarm's state. The signed-in key needs `cloudwatch:GetMetricData`, as
//! reading the same metrics through CloudWatch would.

use std::collections::BTreeMap;

use leadshop_store::Store;
use serde_json::{Value, json};

use crate::monitoring::cost;
use crate::monitoring::series::{self, Metric};
use crate::state::AppState;

/// The days of storage history shown.
const DAYS: i64 = 30;
/// The minutes of request history shown.
const MINUTES: i64 = 60;

fn points(
    store: &Store,
    key: &str,
    from: i64,
    to: i64,
    f: impl Fn(&leadshop_store::Stat) -> f64,
) -> Vec<Value> {
    store
        .datapoints(key, from, to)
        .unwrap_or_default()
        .iter()
        .map(|(ts, s)| json!([ts, f(s)]))
        .collect()
}

/// The dashboard's data (blocking: reads the store).
#[must_use]
pub fn data(state: &AppState) -> Value {
    let store = &state.core.store;
    let now = state.core.clock.now_ms();
    let day_ms = state.core.config.day_ms();
    let from_day = (now.div_euclid(day_ms) - DAYS) * day_ms;
    let from_minute = (now.div_euclid(60_000) - MINUTES) * 60_000;
    let mut storage: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    let mut objects: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut requests: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    let avg = |s: &leadshop_store::Stat| s.sum / s.count.max(1.0);
    for (key, _) in store.series().unwrap_or_default() {
        let Some(m) = Metric::parse(&key) else {
            continue;
        };
        if m.namespace != series::S3 {
            continue;
        }
        let Some(bucket) = m.dimension("BucketName").map(str::to_string) else {
            continue;
        };
        match (
            m.name.as_str(),
            m.dimension("StorageType"),
            m.dimension("FilterId"),
        ) {
            (series::BUCKET_SIZE_BYTES, Some(t), _) => {
                storage
                    .entry(bucket)
                    .or_default()
                    .insert(t.to_string(), points(store, &key, from_day, now + 1, avg));
            }
            (series::NUMBER_OF_OBJECTS, _, _) => {
                objects.insert(bucket, points(store, &key, from_day, now + 1, avg));
            }
            (name, _, Some(filter)) => {
                let value: fn(&leadshop_store::Stat) -> f64 = if name.ends_with("Latency") {
                    |s| s.sum / s.count.max(1.0)
                } else {
                    |s| s.sum
                };
                requests
                    .entry(format!("{bucket} ({filter})"))
                    .or_default()
                    .insert(
                        name.to_string(),
                        points(store, &key, from_minute, now + 1, value),
                    );
            }
            _ => {}
        }
    }
    // The month's cost as it stood at the end of each day so far.
    let month = cost::month_of(now, day_ms);
    let mut cost_by_day = Vec::new();
    let mut day_end = month.start_ms + day_ms;
    loop {
        let at = day_end.min(now);
        if let Ok(e) = cost::estimate(store, &state.observability.prices, at - 1, day_ms) {
            cost_by_day.push(json!([month.start_ms.max(at - day_ms), e.actual]));
        }
        if day_end >= now || day_end >= month.end_ms {
            break;
        }
        day_end += day_ms;
    }
    let budget = state.observability.alarms.budget();
    let alarm = state.observability.alarms.state();
    let estimate = state
        .observability
        .usage_status
        .estimate
        .lock()
        .expect("lock")
        .clone();
    json!({
        "now": now,
        "dayMs": day_ms,
        "storage": storage,
        "objects": objects,
        "requests": requests,
        "cost": {
            "month": month.label,
            "monthStart": month.start_ms,
            "monthEnd": month.end_ms,
            "byDay": cost_by_day,
            "actual": estimate.as_ref().map(|e| e.actual),
            "forecast": estimate.as_ref().map(|e| e.forecast),
            "buckets": estimate.as_ref().map(|e| &e.buckets),
            "prices": {"source": state.observability.prices.source, "taken": state.observability.prices.taken, "region": state.observability.prices.region},
        },
        "budget": {
            "name": budget.budget_name,
            "limit": budget.limit(),
            "notifications": budget.notifications,
            "fired": alarm.fired,
            "pending": alarm.outbox.len(),
        },
        "health": crate::workers::health::console_json(&state.observability.health),
    })
}
