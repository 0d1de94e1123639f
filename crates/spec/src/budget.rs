//! The cost budget (`config/budget.json`, which Terraform's `budget.tf` also reads: amount,
//! and the notifications that alert) and the S3 price table (`config/pricing/*.json`) that
//! turns usage into cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The budget document, in the shape of AWS Budgets' `Budget` and `Notification`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Budget {
    /// Its name.
    pub budget_name: String,
    /// How much a month.
    pub budget_limit: Spend,
    /// Only `MONTHLY`.
    pub time_unit: String,
    /// When to alert.
    pub notifications: Vec<Notification>,
}

/// An amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Spend {
    /// A decimal number, as text (AWS's shape).
    pub amount: String,
    /// Only `USD`.
    pub unit: String,
}

/// One alert threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Notification {
    /// `ACTUAL` (month to date) or `FORECASTED` (the month's projection).
    pub notification_type: String,
    /// Only `GREATER_THAN`.
    pub comparison_operator: String,
    /// Percent of the limit.
    pub threshold: f64,
}

impl Budget {
    /// Parses and checks a budget document.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let b: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if b.limit() <= 0.0 {
            return Err("BudgetLimit.Amount must be a positive number".into());
        }
        if b.budget_limit.unit != "USD" || b.time_unit != "MONTHLY" {
            return Err("only a MONTHLY budget in USD is supported".into());
        }
        for n in &b.notifications {
            if !matches!(n.notification_type.as_str(), "ACTUAL" | "FORECASTED")
                || n.comparison_operator != "GREATER_THAN"
                || n.threshold <= 0.0
            {
                return Err(format!(
                    "notification {n:?}: NotificationType is ACTUAL or FORECASTED, ComparisonOperator GREATER_THAN, Threshold a positive percentage"
                ));
            }
        }
        Ok(b)
    }

    /// The limit in dollars.
    #[must_use]
    pub fn limit(&self) -> f64 {
        self.budget_limit.amount.parse().unwrap_or(0.0)
    }
}

/// S3 list prices for one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PriceTable {
    /// `us-east-1`.
    pub region: String,
    /// `USD`.
    pub currency: String,
    /// Where the prices come from.
    pub source: String,
    /// When they were taken (`YYYY-MM-DD`).
    pub taken: String,
    /// Dollars per GB-month, by storage class.
    #[serde(rename = "StorageGBMonth")]
    pub storage_gb_month: BTreeMap<String, f64>,
    /// Dollars per 1,000 requests, by tier (`Tier1Requests`, `Tier2Requests`).
    pub requests_per1000: BTreeMap<String, f64>,
    /// Dollars per GB sent to the internet.
    #[serde(rename = "TransferOutPerGB")]
    pub transfer_out_per_gb: f64,
}

/// The budget shipped in `config/budget.json`.
pub const BUILTIN_BUDGET: &str = include_str!("../../../config/budget.json");
/// The price table shipped in `config/pricing/s3-us-east-1.json`.
pub const BUILTIN_PRICES: &str = include_str!("../../../config/pricing/s3-us-east-1.json");

impl PriceTable {
    /// Parses a price table.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let p: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !p.storage_gb_month.contains_key("STANDARD") {
            return Err("StorageGBMonth needs at least STANDARD".into());
        }
        Ok(p)
    }

    /// Dollars per GB-month of a class (STANDARD's for a class the table lacks).
    #[must_use]
    pub fn storage(&self, class: &str) -> f64 {
        self.storage_gb_month
            .get(class)
            .or_else(|| self.storage_gb_month.get("STANDARD"))
            .copied()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_documents_parse() {
        let b = Budget::parse(BUILTIN_BUDGET).unwrap();
        assert!((b.limit() - 40.0).abs() < f64::EPSILON);
        assert_eq!(b.notifications.len(), 3);
        let p = PriceTable::parse(BUILTIN_PRICES).unwrap();
        assert!((p.storage("STANDARD") - 0.023).abs() < 1e-12);
        assert!((p.storage("NOT_A_CLASS") - 0.023).abs() < 1e-12);
        assert!(Budget::parse(&BUILTIN_BUDGET.replace("40.00", "0")).is_err());
    }
}
