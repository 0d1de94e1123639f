//! The cost estimate: the month's usage (daily storage samples, billable requests, bytes
//! sent) priced with the price table, month to date and forecast, per bucket.
//!
//! The billing month is the calendar month (UTC) when a day is 86,400 s; with a shortened
//! day (`day_seconds`, tests and demos) it is 30 clock days, so a month passes in minutes.

use leadshop_spec::StorageClass;
use std::collections::BTreeMap;

use leadshop_spec::budget::PriceTable;
use leadshop_store::{Store, StoreError};
use serde::Serialize;

use super::series::{self, Metric};

const GB: f64 = 1024.0 * 1024.0 * 1024.0;
const REAL_DAY_MS: i64 = 86_400_000;

/// A billing month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Month {
    /// `2026-12`, or `day-<n>` for a month of shortened days starting at day n.
    pub label: String,
    /// Its first millisecond.
    pub start_ms: i64,
    /// The first millisecond after it.
    pub end_ms: i64,
    /// How many days it has.
    pub days: i64,
}

/// The billing month containing `now_ms`.
#[must_use]
pub fn month_of(now_ms: i64, day_ms: i64) -> Month {
    if day_ms == REAL_DAY_MS {
        let t = time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let first = time::Date::from_calendar_date(t.year(), t.month(), 1).expect("valid date");
        let next = if t.month() == time::Month::December {
            time::Date::from_calendar_date(t.year() + 1, time::Month::January, 1)
        } else {
            time::Date::from_calendar_date(t.year(), t.month().next(), 1)
        }
        .expect("valid date");
        let ms = |d: time::Date| d.midnight().assume_utc().unix_timestamp() * 1000;
        Month {
            label: format!("{:04}-{:02}", t.year(), u8::from(t.month())),
            start_ms: ms(first),
            end_ms: ms(next),
            days: (next - first).whole_days(),
        }
    } else {
        let day = now_ms.div_euclid(day_ms);
        let first = day.div_euclid(30) * 30;
        Month {
            label: format!("day-{first}"),
            start_ms: first * day_ms,
            end_ms: (first + 30) * day_ms,
            days: 30,
        }
    }
}

/// One bucket's cost this month so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BucketCost {
    /// Storage (GB-days priced by class).
    pub storage: f64,
    /// Requests.
    pub requests: f64,
    /// Data sent.
    pub transfer: f64,
    /// Storage cost per day at the latest sample (for the forecast).
    pub storage_per_day: f64,
}

impl BucketCost {
    /// All of it.
    #[must_use]
    pub fn total(&self) -> f64 {
        self.storage + self.requests + self.transfer
    }
}

/// The month's estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The month.
    pub month: Month,
    /// Cost so far.
    pub actual: f64,
    /// Projected cost of the whole month.
    pub forecast: f64,
    /// By bucket.
    pub buckets: BTreeMap<String, BucketCost>,
}

/// The class (its name, the price table's row) of a CloudWatch `StorageType`.
fn class_of(storage_type: &str) -> &'static str {
    StorageClass::ALL
        .into_iter()
        .find(|c| c.storage_type() == storage_type)
        .unwrap_or(StorageClass::Standard)
        .name()
}

/// Prices the month's usage as the store holds it at `now_ms`.
///
/// # Errors
/// Database errors.
pub fn estimate(
    store: &Store,
    prices: &PriceTable,
    now_ms: i64,
    day_ms: i64,
) -> Result<Estimate, StoreError> {
    let month = month_of(now_ms, day_ms);
    let mut buckets: BTreeMap<String, BucketCost> = BTreeMap::new();
    for (key, _) in store.series()? {
        let Some(m) = Metric::parse(&key) else {
            continue;
        };
        let Some(bucket) = m.dimension("BucketName").map(str::to_string) else {
            continue;
        };
        // Usage up to `now_ms` (the dashboard prices past days with an earlier `now_ms`).
        let points = || {
            store.datapoints(
                &key,
                month.start_ms,
                now_ms.saturating_add(1).min(month.end_ms),
            )
        };
        match (m.namespace.as_str(), m.name.as_str()) {
            (series::S3, series::BUCKET_SIZE_BYTES) => {
                // The BucketName-only total repeats the per-StorageType series.
                let Some(storage_type) = m.dimension("StorageType") else {
                    continue;
                };
                let class = class_of(storage_type);
                let per_day = prices.storage(class) / month.days as f64;
                let pts = points()?;
                let c = buckets.entry(bucket).or_default();
                // Each daily sample stands for one day of storage.
                for (_, s) in &pts {
                    c.storage += s.sum / s.count.max(1.0) / GB * per_day;
                }
                if let Some((_, s)) = pts.last() {
                    c.storage_per_day += s.sum / s.count.max(1.0) / GB * per_day;
                }
            }
            (series::BILLING, "BytesOut") => {
                let bytes: f64 = points()?.iter().map(|(_, s)| s.sum).sum();
                buckets.entry(bucket).or_default().transfer +=
                    bytes / GB * prices.transfer_out_per_gb;
            }
            (series::BILLING, tier) => {
                let price = prices.requests_per1000.get(tier).copied().unwrap_or(0.0);
                let n: f64 = points()?.iter().map(|(_, s)| s.sum).sum();
                buckets.entry(bucket).or_default().requests += n / 1000.0 * price;
            }
            _ => {}
        }
    }
    let actual: f64 = buckets.values().map(BucketCost::total).sum();
    // Requests and transfer go on at the month's pace so far (counted from at least a day);
    // storage at the latest sample's daily cost for the days left.
    let elapsed = (now_ms - month.start_ms).max(day_ms) as f64;
    let length = (month.end_ms - month.start_ms) as f64;
    let days_left = ((month.end_ms - now_ms) as f64 / day_ms as f64).max(0.0);
    let forecast: f64 = buckets
        .values()
        .map(|c| {
            c.storage
                + c.storage_per_day * days_left
                + (c.requests + c.transfer) * (length / elapsed).max(1.0)
        })
        .sum();
    Ok(Estimate {
        month,
        actual,
        forecast: forecast.max(actual),
        buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_calendar_months_or_thirty_short_days() {
        // 2026-12-01T04:00:00Z
        let m = month_of(1_796_097_600_000, REAL_DAY_MS);
        assert_eq!(m.label, "2026-12");
        assert_eq!(m.days, 31);
        assert_eq!(m.end_ms - m.start_ms, 31 * REAL_DAY_MS);
        let feb = month_of(1_771_000_000_000, REAL_DAY_MS);
        assert_eq!((feb.label.as_str(), feb.days), ("2026-02", 28));
        let short = month_of(95_500, 1000);
        assert_eq!(
            (short.start_ms, short.end_ms, short.days),
            (90_000, 120_000, 30)
        );
    }
}
