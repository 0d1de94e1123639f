//! CloudWatch's read operations over the stored datapoints: GetMetricStatistics,
//! GetMetricData (metric statistics; math expressions are refused) and ListMetrics. Inputs and
//! outputs are protocol-neutral JSON values (timestamps as epoch seconds); `protocol` turns
//! them into each wire format.

use std::collections::BTreeMap;

use leadshop_store::{Stat, Store};
use serde_json::{Map, Value, json};

use leadshop_spec::{ErrorCode, Refusal};

use super::internal_failure;
use super::series::Metric;

/// At most this many datapoints per GetMetricStatistics answer, as on AWS.
const MAX_STATISTICS_POINTS: i64 = 1440;
/// At most this many datapoints per GetMetricData answer, as on AWS.
const MAX_DATA_POINTS: i64 = 100_800;
/// Metrics per ListMetrics page, as on AWS.
const LIST_PAGE: usize = 500;

fn missing(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::MissingParameter,
        format!("The parameter {name} is required."),
    )
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::InvalidParameterValue, message)
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(name))
}

/// A number sent as a number (JSON, CBOR) or as text (query).
fn number(v: &Value, name: &str) -> Result<Option<f64>, Refusal> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("The parameter {name} must be a number."))),
        Some(_) => Err(invalid(format!("The parameter {name} must be a number."))),
    }
}

/// The earliest and latest timestamps accepted, in milliseconds: years 1 to 9999, the range
/// of ISO 8601 text. Anything outside (a start of -1e18 seconds) is refused, so that
/// differences of two timestamps never overflow.
const TIMESTAMP_RANGE_MS: std::ops::RangeInclusive<i64> = -62_135_596_800_000..=253_402_300_799_999;

/// A timestamp: epoch seconds (JSON, CBOR) or ISO 8601 text (query), in milliseconds.
fn timestamp(v: &Value, name: &str) -> Result<i64, Refusal> {
    let bad = || invalid(format!("The parameter {name} must be a valid timestamp."));
    let from_secs = |secs: f64| {
        let ms = (secs * 1000.0).round();
        (ms.is_finite()
            && ms >= *TIMESTAMP_RANGE_MS.start() as f64
            && ms <= *TIMESTAMP_RANGE_MS.end() as f64)
            .then_some(ms as i64)
            .ok_or_else(bad)
    };
    match v.get(name) {
        None | Some(Value::Null) => Err(missing(name)),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad).and_then(from_secs),
        Some(Value::String(s)) => {
            if let Ok(secs) = s.parse::<f64>() {
                return from_secs(secs);
            }
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| bad())?;
            from_secs(t.unix_timestamp() as f64 + f64::from(t.millisecond()) / 1000.0)
        }
        Some(_) => Err(bad()),
    }
}

fn list<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn dimensions(v: &Value) -> Result<Vec<(String, Option<String>)>, Refusal> {
    list(v, "Dimensions")
        .iter()
        .map(|d| {
            Ok((
                text(d, "Name")?.to_string(),
                d.get("Value").and_then(Value::as_str).map(str::to_string),
            ))
        })
        .collect()
}

fn metric_of(v: &Value) -> Result<Metric, Refusal> {
    let dims = dimensions(v)?;
    let mut pairs = Vec::with_capacity(dims.len());
    for (k, val) in &dims {
        let val = val
            .as_deref()
            .ok_or_else(|| missing("Dimensions.member.N.Value"))?;
        pairs.push((k.as_str(), val));
    }
    Ok(Metric::new(
        text(v, "Namespace")?,
        text(v, "MetricName")?,
        &pairs,
    ))
}

/// The datapoints of a metric between `start` and `end` (ms), aggregated per `period`
/// seconds (aligned to multiples of the period since the epoch), oldest first.
fn aggregate(
    store: &Store,
    metric: &Metric,
    start: i64,
    end: i64,
    period: i64,
) -> Result<Vec<(i64, Stat)>, Refusal> {
    let points = store
        .datapoints(&metric.key(), start, end)
        .map_err(internal_failure)?;
    let period_ms = period * 1000;
    let mut by: BTreeMap<i64, Stat> = BTreeMap::new();
    for (ts, stat) in points {
        let slot = ts.div_euclid(period_ms) * period_ms;
        by.entry(slot)
            .and_modify(|s| *s = s.merge(stat))
            .or_insert(stat);
    }
    Ok(by.into_iter().collect())
}

fn statistic(stat: &Stat, name: &str) -> Option<f64> {
    Some(match name {
        "SampleCount" => stat.count,
        "Sum" => stat.sum,
        "Average" => stat.sum / stat.count.max(1.0),
        "Minimum" => stat.min,
        "Maximum" => stat.max,
        _ => return None,
    })
}

const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

fn check_period(period: Option<f64>) -> Result<i64, Refusal> {
    let period = period.ok_or_else(|| missing("Period"))?;
    // Up to ten years (CloudWatch keeps nothing longer), so `period * 1000` cannot overflow.
    if !(1.0..=315_360_000.0).contains(&period) || period.fract() != 0.0 {
        return Err(invalid(
            "The parameter Period must be a positive whole number of seconds.",
        ));
    }
    if period > 60.0 && (period as i64) % 60 != 0 {
        return Err(invalid("The parameter Period must be a multiple of 60."));
    }
    Ok(period as i64)
}

/// GetMetricStatistics.
///
/// # Errors
/// [`Refusal`] as CloudWatch answers.
pub fn get_metric_statistics(store: &Store, input: &Value) -> Result<Value, Refusal> {
    let metric = metric_of(input)?;
    let start = timestamp(input, "StartTime")?;
    let end = timestamp(input, "EndTime")?;
    let period = check_period(number(input, "Period")?)?;
    if end <= start {
        return Err(invalid("The parameter StartTime must be before EndTime."));
    }
    if !list(input, "ExtendedStatistics").is_empty() {
        return Err(invalid(
            "ExtendedStatistics (percentiles) are not kept by leadshop.",
        ));
    }
    let stats: Vec<&str> = list(input, "Statistics")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if stats.is_empty() {
        return Err(Refusal::new(
            ErrorCode::MissingParameter,
            "Must specify either Statistics or ExtendedStatistics.",
        ));
    }
    if let Some(bad) = stats.iter().find(|s| !STATISTICS.contains(s)) {
        return Err(invalid(format!(
            "The parameter Statistics.member.N must be one of {STATISTICS:?}, not {bad}."
        )));
    }
    let points = (end - start) / (period * 1000);
    if points > MAX_STATISTICS_POINTS {
        return Err(Refusal::new(
            ErrorCode::InvalidParameterCombination,
            format!(
                "You have requested up to {points} datapoints, which exceeds the limit of {MAX_STATISTICS_POINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            ),
        ));
    }
    let unit = metric.unit();
    let datapoints: Vec<Value> = aggregate(store, &metric, start, end, period)?
        .into_iter()
        .map(|(ts, stat)| {
            let mut d = Map::new();
            d.insert("Timestamp".into(), json!(ts as f64 / 1000.0));
            for s in &stats {
                if let Some(v) = statistic(&stat, s) {
                    d.insert((*s).to_string(), json!(v));
                }
            }
            d.insert("Unit".into(), json!(unit));
            Value::Object(d)
        })
        .collect();
    Ok(json!({"Label": metric.name, "Datapoints": datapoints}))
}

/// GetMetricData (MetricStat queries).
///
/// # Errors
/// [`Refusal`] as CloudWatch answers.
pub fn get_metric_data(store: &Store, input: &Value) -> Result<Value, Refusal> {
    let start = timestamp(input, "StartTime")?;
    let end = timestamp(input, "EndTime")?;
    if end <= start {
        return Err(invalid("The parameter StartTime must be before EndTime."));
    }
    let queries = list(input, "MetricDataQueries");
    if queries.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    if queries.len() > 500 {
        return Err(invalid("At most 500 MetricDataQueries are allowed."));
    }
    let ascending = input.get("ScanBy").and_then(Value::as_str) == Some("TimestampAscending");
    let mut results = Vec::new();
    let mut total = 0i64;
    for q in queries {
        let id = text(q, "Id")?;
        if q.get("Expression").is_some() {
            return Err(invalid(format!(
                "The query {id} uses Expression: metric math is not offered by leadshop; use MetricStat."
            )));
        }
        let ms = q.get("MetricStat").ok_or_else(|| missing("MetricStat"))?;
        let metric = metric_of(
            ms.get("Metric")
                .ok_or_else(|| missing("MetricStat.Metric"))?,
        )?;
        let period = check_period(number(ms, "Period")?)?;
        let stat = text(ms, "Stat")?;
        if !STATISTICS.contains(&stat) {
            return Err(invalid(format!(
                "The Stat {stat} is not one of {STATISTICS:?} (percentiles are not kept)."
            )));
        }
        total += (end - start) / (period * 1000);
        if total > MAX_DATA_POINTS {
            return Err(invalid(format!(
                "The query would return more than {MAX_DATA_POINTS} datapoints."
            )));
        }
        let mut points = aggregate(store, &metric, start, end, period)?;
        if !ascending {
            points.reverse();
        }
        let returned = q.get("ReturnData").and_then(Value::as_bool).unwrap_or(true);
        if !returned {
            continue;
        }
        results.push(json!({
            "Id": id,
            "Label": q.get("Label").and_then(Value::as_str).unwrap_or(&metric.name),
            "Timestamps": points.iter().map(|(ts, _)| json!(*ts as f64 / 1000.0)).collect::<Vec<_>>(),
            "Values": points.iter().map(|(_, s)| json!(statistic(s, stat).unwrap_or(0.0))).collect::<Vec<_>>(),
            "StatusCode": "Complete",
        }));
    }
    Ok(json!({"MetricDataResults": results, "Messages": []}))
}

/// ListMetrics.
///
/// # Errors
/// [`Refusal`] as CloudWatch answers.
pub fn list_metrics(store: &Store, input: &Value, now_ms: i64) -> Result<Value, Refusal> {
    let namespace = input.get("Namespace").and_then(Value::as_str);
    let name = input.get("MetricName").and_then(Value::as_str);
    let wanted = dimensions(input)?;
    let recent = input.get("RecentlyActive").and_then(Value::as_str) == Some("PT3H");
    let skip: usize = match input.get("NextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| invalid("The NextToken is not valid."))?,
    };
    let mut metrics: Vec<Metric> = store
        .series()
        .map_err(internal_failure)?
        .into_iter()
        .filter(|(_, last)| !recent || *last >= now_ms - 3 * 3600 * 1000)
        .filter_map(|(key, _)| Metric::parse(&key))
        // leadshop's own billing usage is not a CloudWatch metric.
        .filter(|m| m.namespace != super::series::BILLING)
        .filter(|m| namespace.is_none_or(|n| m.namespace == n))
        .filter(|m| name.is_none_or(|n| m.name == n))
        .filter(|m| {
            wanted.iter().all(|(k, v)| match v {
                Some(v) => m.dimension(k) == Some(v.as_str()),
                None => m.dimension(k).is_some(),
            })
        })
        .collect();
    metrics.sort();
    let page: Vec<Value> = metrics
        .iter()
        .skip(skip)
        .take(LIST_PAGE)
        .map(|m| {
            json!({
                "Namespace": m.namespace,
                "MetricName": m.name,
                "Dimensions": m.dimensions.iter().map(|(k, v)| json!({"Name": k, "Value": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = json!({"Metrics": page});
    if metrics.len() > skip + LIST_PAGE {
        out["NextToken"] = json!((skip + LIST_PAGE).to_string());
    }
    Ok(out)
}
