//! The request-metrics document (`metrics.json`): the bucket's CloudWatch request-metrics
//! configurations (`PutBucketMetricsConfiguration`), in AWS JSON shape:
//! `{"MetricsConfigurations": [{"Id": "EntireBucket"}]}`. A configuration without a
//! `Filter` counts every request to the bucket.

use serde::{Deserialize, Serialize};

/// A bucket's request-metrics configurations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfigurations {
    /// The configurations, each named by its `Id` (the `FilterId` dimension).
    #[serde(rename = "MetricsConfigurations")]
    pub configurations: Vec<MetricsConfiguration>,
}

/// One configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct MetricsConfiguration {
    /// 1–64 characters of letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// `{"Prefix": …}`, `{"Tag": …}`, `{"AccessPointArn": …}` or `{"And": …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
}

impl MetricsConfigurations {
    /// Parses and validates the document.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn parse(json: &str) -> Result<Self, String> {
        let doc: Self = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &doc.configurations {
            let valid = !c.id.is_empty()
                && c.id.len() <= 64
                && c.id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
            if !valid {
                return Err(format!("invalid metrics configuration Id {:?}", c.id));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(format!("metrics configuration Id {:?} appears twice", c.id));
            }
            if let Some(f) = &c.filter {
                let keys: Vec<&str> = f
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if keys.len() != 1 || !["Prefix", "Tag", "AccessPointArn", "And"].contains(&keys[0])
                {
                    return Err(format!(
                        "metrics configuration {:?}: Filter must have exactly one of Prefix, Tag, AccessPointArn, And",
                        c.id
                    ));
                }
            }
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::MetricsConfigurations;

    #[test]
    fn ids_and_filters_are_checked() {
        let ok = MetricsConfigurations::parse(
            r#"{"MetricsConfigurations":[{"Id":"EntireBucket"},{"Id":"tmp","Filter":{"Prefix":"tmp/"}}]}"#,
        )
        .unwrap();
        assert_eq!(ok.configurations.len(), 2);
        for bad in [
            r#"{"MetricsConfigurations":[{"Id":""}]}"#,
            r#"{"MetricsConfigurations":[{"Id":"a b"}]}"#,
            r#"{"MetricsConfigurations":[{"Id":"a"},{"Id":"a"}]}"#,
            r#"{"MetricsConfigurations":[{"Id":"a","Filter":{}}]}"#,
            r#"{"MetricsConfigurations":[{"Id":"a","Filter":{"Prefix":"x","Tag":{}}}]}"#,
            r#"{"MetricsConfigurations":[{"Id":"a","Other":1}]}"#,
        ] {
            assert!(MetricsConfigurations::parse(bad).is_err(), "{bad}");
        }
    }
}
