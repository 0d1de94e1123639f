//! Put/Get/Delete/ListBucketMetricsConfiguration: the request-metrics configurations
//! Terraform's `aws_s3_bucket_metric` writes, kept in AWS JSON shape as
//! `{"<Id>": {"Id", "Filter"}}` (`bucket_config::METRICS_DOC`). A bucket with at least one
//! gets one-minute CloudWatch request metrics (`AllRequests`, …) per configuration, as the
//! `FilterId` dimension (`crate::monitoring`).

use serde_json::{Map, Value, json};

use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result, s3_error};

use super::Leadshop;
use crate::bucket_config::METRICS_DOC;

/// At most this many configurations per bucket, as on AWS.
const MAX_CONFIGURATIONS: usize = 1000;
/// Configurations per ListBucketMetricsConfigurations page, as on AWS.
const PAGE: usize = 100;

fn tag_json(t: &Tag) -> Value {
    json!({"Key": t.key.clone().unwrap_or_default(), "Value": t.value.clone().unwrap_or_default()})
}

fn tag_of(v: &Value) -> Tag {
    Tag {
        key: v.get("Key").and_then(Value::as_str).map(str::to_string),
        value: v.get("Value").and_then(Value::as_str).map(str::to_string),
    }
}

fn to_json(c: &MetricsConfiguration) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(c.id));
    let filter = match &c.filter {
        None => None,
        Some(MetricsFilter::Prefix(p)) => Some(json!({"Prefix": p})),
        Some(MetricsFilter::Tag(t)) => Some(json!({"Tag": tag_json(t)})),
        Some(MetricsFilter::AccessPointArn(a)) => Some(json!({"AccessPointArn": a})),
        Some(MetricsFilter::And(a)) => {
            let mut and = Map::new();
            if let Some(p) = &a.prefix {
                and.insert("Prefix".into(), json!(p));
            }
            if let Some(tags) = &a.tags {
                and.insert(
                    "Tags".into(),
                    Value::Array(tags.iter().map(tag_json).collect()),
                );
            }
            if let Some(arn) = &a.access_point_arn {
                and.insert("AccessPointArn".into(), json!(arn));
            }
            Some(json!({"And": and}))
        }
        Some(_) => None,
    };
    if let Some(f) = filter {
        out.insert("Filter".into(), f);
    }
    Value::Object(out)
}

fn from_json(v: &Value) -> MetricsConfiguration {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let f = v.get("Filter");
    let filter = f.and_then(|f| {
        if let Some(p) = s(f.get("Prefix")) {
            Some(MetricsFilter::Prefix(p))
        } else if let Some(t) = f.get("Tag") {
            Some(MetricsFilter::Tag(tag_of(t)))
        } else if let Some(a) = s(f.get("AccessPointArn")) {
            Some(MetricsFilter::AccessPointArn(a))
        } else {
            f.get("And").map(|a| {
                MetricsFilter::And(MetricsAndOperator {
                    prefix: s(a.get("Prefix")),
                    tags: a
                        .get("Tags")
                        .and_then(Value::as_array)
                        .map(|t| t.iter().map(tag_of).collect()),
                    access_point_arn: s(a.get("AccessPointArn")),
                })
            })
        }
    });
    MetricsConfiguration {
        filter,
        id: s(v.get("Id")).unwrap_or_default(),
    }
}

/// The bucket's configurations, by id.
async fn stored(s: &Leadshop, bucket: String) -> S3Result<Map<String, Value>> {
    let rec = s.db(move |st| st.bucket(&bucket)).await?;
    Ok(rec
        .documents
        .get(METRICS_DOC)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

fn no_such_configuration() -> S3Error {
    let mut e = S3Error::with_message(
        s3s::S3ErrorCode::Custom("NoSuchConfiguration".into()),
        "The specified configuration does not exist.",
    );
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

pub(super) async fn put_bucket_metrics_configuration(
    s: &Leadshop,
    req: S3Request<PutBucketMetricsConfigurationInput>,
) -> S3Result<S3Response<PutBucketMetricsConfigurationOutput>> {
    let input = req.input;
    if !valid_id(&input.id) {
        return Err(s3_error!(
            InvalidArgument,
            "The ID has a 64 character limit and can only contain letters, numbers, periods, dashes, and underscores"
        ));
    }
    if input.metrics_configuration.id != input.id {
        return Err(s3_error!(
            InvalidArgument,
            "The Id in the configuration does not match the id parameter"
        ));
    }
    if let Some(MetricsFilter::And(a)) = &input.metrics_configuration.filter {
        let predicates = usize::from(a.prefix.is_some())
            + a.tags.as_ref().map_or(0, Vec::len)
            + usize::from(a.access_point_arn.is_some());
        if predicates < 2 {
            return Err(s3_error!(
                MalformedXML,
                "The And operator must have at least two predicates"
            ));
        }
    }
    let value = to_json(&input.metrics_configuration);
    let id = input.id;
    s.db(move |st| {
        st.update_bucket(&input.bucket, move |rec| {
            let docs = rec
                .documents
                .entry(METRICS_DOC.into())
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(map) = docs.as_object_mut() else {
                *docs = Value::Object(Map::new());
                return Err(leadshop_store::StoreError::InvalidArgument(
                    "damaged metrics configurations replaced".into(),
                ));
            };
            if !map.contains_key(&id) && map.len() >= MAX_CONFIGURATIONS {
                return Err(leadshop_store::StoreError::InvalidArgument(
                    "A bucket can have at most 1000 metrics configurations".into(),
                ));
            }
            map.insert(id, value);
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(
        PutBucketMetricsConfigurationOutput::default(),
    ))
}

pub(super) async fn get_bucket_metrics_configuration(
    s: &Leadshop,
    req: S3Request<GetBucketMetricsConfigurationInput>,
) -> S3Result<S3Response<GetBucketMetricsConfigurationOutput>> {
    let all = stored(s, req.input.bucket).await?;
    let c = all.get(&req.input.id).ok_or_else(no_such_configuration)?;
    Ok(S3Response::new(GetBucketMetricsConfigurationOutput {
        metrics_configuration: Some(from_json(c)),
    }))
}

pub(super) async fn delete_bucket_metrics_configuration(
    s: &Leadshop,
    req: S3Request<DeleteBucketMetricsConfigurationInput>,
) -> S3Result<S3Response<DeleteBucketMetricsConfigurationOutput>> {
    let input = req.input;
    if !stored(s, input.bucket.clone())
        .await?
        .contains_key(&input.id)
    {
        return Err(no_such_configuration());
    }
    let id = input.id;
    s.db(move |st| {
        st.update_bucket(&input.bucket, move |rec| {
            let now_empty = rec
                .documents
                .get_mut(METRICS_DOC)
                .and_then(Value::as_object_mut)
                .is_some_and(|m| {
                    m.remove(&id);
                    m.is_empty()
                });
            if now_empty {
                rec.documents.remove(METRICS_DOC);
            }
            Ok(())
        })
    })
    .await?;
    Ok(S3Response::new(
        DeleteBucketMetricsConfigurationOutput::default(),
    ))
}

pub(super) async fn list_bucket_metrics_configurations(
    s: &Leadshop,
    req: S3Request<ListBucketMetricsConfigurationsInput>,
) -> S3Result<S3Response<ListBucketMetricsConfigurationsOutput>> {
    let input = req.input;
    let all = stored(s, input.bucket).await?;
    // The token is the last id of the previous page (ids sort as the map does).
    let after = input.continuation_token.clone();
    let mut page: Vec<MetricsConfiguration> = all
        .iter()
        .filter(|(id, _)| after.as_ref().is_none_or(|a| id.as_str() > a.as_str()))
        .take(PAGE + 1)
        .map(|(_, v)| from_json(v))
        .collect();
    let truncated = page.len() > PAGE;
    page.truncate(PAGE);
    Ok(S3Response::new(ListBucketMetricsConfigurationsOutput {
        continuation_token: input.continuation_token,
        is_truncated: Some(truncated),
        next_continuation_token: truncated
            .then(|| page.last().map(|c| c.id.clone()))
            .flatten(),
        metrics_configuration_list: (!page.is_empty()).then_some(page),
    }))
}
