//! Metric series: a namespace, a metric name and dimensions, encoded as the store's series
//! key (`namespace \t name \t Dim=value \t …`, dimensions sorted by name), and the units of
//! the metrics leadshop publishes.

/// The namespace of S3's metrics.
pub const S3: &str = "AWS/S3";
/// Where leadshop keeps its own billing usage (requests and bytes per bucket per day).
pub const BILLING: &str = "leadshop/Billing";

/// Daily storage metrics.
pub const BUCKET_SIZE_BYTES: &str = "BucketSizeBytes";
/// Daily object counts.
pub const NUMBER_OF_OBJECTS: &str = "NumberOfObjects";

/// Replication metrics (per rule whose destination enables `Metrics`), by minute, with the
/// dimensions `SourceBucket`, `DestinationBucket` and `RuleId` as AWS publishes them.
pub const REPLICATION_LATENCY: &str = "ReplicationLatency";
/// See [`REPLICATION_LATENCY`].
pub const OPERATIONS_PENDING_REPLICATION: &str = "OperationsPendingReplication";
/// See [`REPLICATION_LATENCY`].
pub const BYTES_PENDING_REPLICATION: &str = "BytesPendingReplication";
/// See [`REPLICATION_LATENCY`].
pub const OPERATIONS_FAILED_REPLICATION: &str = "OperationsFailedReplication";

/// The one-minute request metrics of buckets with a metrics configuration: the ones every
/// request adds to (the per-operation kinds, `GetRequests` and the rest, are
/// [`leadshop_spec::operations::RequestMetric`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSeries {
    /// `AllRequests`.
    AllRequests,
    /// `4xxErrors` (0 or 1 per request).
    Errors4xx,
    /// `5xxErrors` (0 or 1 per request).
    Errors5xx,
    /// `BytesDownloaded`.
    BytesDownloaded,
    /// `BytesUploaded`.
    BytesUploaded,
    /// `FirstByteLatency`.
    FirstByteLatency,
    /// `TotalRequestLatency`.
    TotalRequestLatency,
}

impl RequestSeries {
    /// Every one.
    pub const ALL: [RequestSeries; 7] = [
        RequestSeries::AllRequests,
        RequestSeries::Errors4xx,
        RequestSeries::Errors5xx,
        RequestSeries::BytesDownloaded,
        RequestSeries::BytesUploaded,
        RequestSeries::FirstByteLatency,
        RequestSeries::TotalRequestLatency,
    ];

    /// CloudWatch's name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            RequestSeries::AllRequests => "AllRequests",
            RequestSeries::Errors4xx => "4xxErrors",
            RequestSeries::Errors5xx => "5xxErrors",
            RequestSeries::BytesDownloaded => "BytesDownloaded",
            RequestSeries::BytesUploaded => "BytesUploaded",
            RequestSeries::FirstByteLatency => "FirstByteLatency",
            RequestSeries::TotalRequestLatency => "TotalRequestLatency",
        }
    }

    /// Its unit.
    #[must_use]
    pub const fn unit(self) -> &'static str {
        match self {
            RequestSeries::AllRequests | RequestSeries::Errors4xx | RequestSeries::Errors5xx => {
                "Count"
            }
            RequestSeries::BytesDownloaded | RequestSeries::BytesUploaded => "Bytes",
            RequestSeries::FirstByteLatency | RequestSeries::TotalRequestLatency => "Milliseconds",
        }
    }
}

/// The unit of a one-minute request metric by its name (`Count` for the per-operation kinds).
fn request_metric_unit(name: &str) -> Option<&'static str> {
    RequestSeries::ALL
        .into_iter()
        .find(|m| m.name() == name)
        .map(RequestSeries::unit)
        .or_else(|| {
            leadshop_spec::operations::RequestMetric::ALL
                .into_iter()
                .any(|m| m.name() == name)
                .then_some("Count")
        })
}

/// A metric: namespace, name, dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Metric {
    /// `AWS/S3`.
    pub namespace: String,
    /// `BucketSizeBytes`.
    pub name: String,
    /// `(Name, Value)`, sorted by name.
    pub dimensions: Vec<(String, String)>,
}

impl Metric {
    /// A metric; `dimensions` in any order.
    #[must_use]
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> Self {
        let mut dimensions: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        dimensions.sort();
        Self {
            namespace: namespace.into(),
            name: name.into(),
            dimensions,
        }
    }

    /// The store's series key.
    #[must_use]
    pub fn key(&self) -> String {
        let mut out = format!("{}\t{}", self.namespace, self.name);
        for (k, v) in &self.dimensions {
            out.push('\t');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }

    /// The metric of a series key.
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        let mut parts = key.split('\t');
        let namespace = parts.next()?.to_string();
        let name = parts.next()?.to_string();
        let dimensions = parts
            .map(|d| {
                d.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            namespace,
            name,
            dimensions,
        })
    }

    /// The unit CloudWatch reports for it.
    #[must_use]
    pub fn unit(&self) -> &'static str {
        match self.name.as_str() {
            BUCKET_SIZE_BYTES | BYTES_PENDING_REPLICATION => "Bytes",
            NUMBER_OF_OBJECTS | OPERATIONS_PENDING_REPLICATION | OPERATIONS_FAILED_REPLICATION => {
                "Count"
            }
            REPLICATION_LATENCY => "Seconds",
            n => request_metric_unit(n).unwrap_or("None"),
        }
    }

    /// The value of one dimension.
    #[must_use]
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// CloudWatch's `StorageType` of a stored storage class (its name, as records keep it;
/// [`StorageClass::storage_type`](leadshop_spec::StorageClass::storage_type)).
#[must_use]
pub fn storage_type(class: &str) -> &'static str {
    leadshop_spec::StorageClass::parse(class)
        .unwrap_or(leadshop_spec::StorageClass::Standard)
        .storage_type()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_with_dimensions_sorted() {
        let m = Metric::new(
            S3,
            BUCKET_SIZE_BYTES,
            &[("StorageType", "StandardStorage"), ("BucketName", "b")],
        );
        assert_eq!(
            m.key(),
            "AWS/S3\tBucketSizeBytes\tBucketName=b\tStorageType=StandardStorage"
        );
        assert_eq!(Metric::parse(&m.key()), Some(m.clone()));
        assert_eq!(m.unit(), "Bytes");
        assert_eq!(storage_type("GLACIER_IR"), "GlacierInstantRetrievalStorage");
    }

    #[test]
    fn request_metrics_have_cloudwatch_units() {
        let unit = |name: &str| Metric::new(S3, name, &[("BucketName", "b")]).unit();
        assert_eq!(unit("AllRequests"), "Count");
        assert_eq!(unit("GetRequests"), "Count");
        assert_eq!(unit("4xxErrors"), "Count");
        assert_eq!(unit("BytesUploaded"), "Bytes");
        assert_eq!(unit("TotalRequestLatency"), "Milliseconds");
        assert_eq!(unit(BUCKET_SIZE_BYTES), "Bytes");
        assert_eq!(unit("NoSuchMetric"), "None");
    }
}
