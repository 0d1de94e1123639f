//! What S3 does to one version on a given day, by the rules.

use std::collections::BTreeMap;

use crate::storage_class::StorageClass;

use super::{
    LifecycleConfiguration, MIN_SIZE_VARIES, MIN_TRANSITION_SIZE, Rule, due_after, parse_date,
};

impl LifecycleConfiguration {
    /// The rule that expires a current version with these facts, and when (for
    /// `x-amz-expiration`): the earliest due Expiration among the enabled rules that match.
    #[must_use]
    pub fn expiration_of(&self, obj: &Subject<'_>, day_ms: i64) -> Option<(i64, &Rule)> {
        self.rules
            .iter()
            .filter(|r| r.enabled() && r.matches(obj))
            .filter_map(|r| {
                let e = r.expiration.as_ref()?;
                let due = if let Some(d) = e.days {
                    due_after(obj.base_ms, d, day_ms)
                } else {
                    parse_date(e.date.as_deref()?).ok()?
                };
                Some((due, r))
            })
            .min_by_key(|(due, _)| *due)
    }

    /// What S3 does today to one version: the first due action by AWS's precedence
    /// (permanent deletion, then expiration, then the deepest due transition).
    #[must_use]
    pub fn decide(&self, v: &Version<'_>, now_ms: i64, day_ms: i64) -> Option<Decision> {
        let subject = Subject {
            key: v.key,
            size: v.size,
            tags: v.tags,
            base_ms: v.created_ms,
        };
        let rules = || {
            self.rules
                .iter()
                .filter(|r| r.enabled() && r.matches(&subject))
        };
        match v.state {
            State::Noncurrent {
                since_ms,
                newer_noncurrent,
            } => {
                let expire = rules().find(|r| {
                    r.noncurrent_version_expiration.as_ref().is_some_and(|e| {
                        e.noncurrent_days
                            .is_none_or(|d| due_after(since_ms, d, day_ms) <= now_ms)
                            && e.newer_noncurrent_versions
                                .is_none_or(|n| newer_noncurrent >= u32::try_from(n).unwrap_or(0))
                    })
                });
                if let Some(r) = expire {
                    return Some(Decision::DeleteVersion(r.label()));
                }
                if v.delete_marker {
                    return None;
                }
                self.deepest(
                    rules().flat_map(|r| {
                        r.noncurrent_version_transitions
                            .iter()
                            .filter_map(move |t| {
                                let due = due_after(since_ms, t.noncurrent_days?, day_ms) <= now_ms
                                    && t.newer_noncurrent_versions.is_none_or(|n| {
                                        newer_noncurrent >= u32::try_from(n).unwrap_or(0)
                                    });
                                due.then_some((r, t.storage_class.as_str()))
                            })
                    }),
                    v,
                )
            }
            State::Current { only_version } => {
                if v.delete_marker {
                    // A delete marker that hides nothing any more.
                    if !only_version {
                        return None;
                    }
                    // At once with ExpiredObjectDeleteMarker; with Days (or a Date), once
                    // the marker itself is old enough, as AWS does.
                    return rules()
                        .find(|r| {
                            r.expiration.as_ref().is_some_and(|e| {
                                e.expired_object_delete_marker == Some(true)
                                    || e.days.is_some_and(|d| {
                                        due_after(v.created_ms, d, day_ms) <= now_ms
                                    })
                                    || e.date
                                        .as_deref()
                                        .and_then(|d| parse_date(d).ok())
                                        .is_some_and(|d| d <= now_ms)
                            })
                        })
                        .map(|r| Decision::RemoveDeleteMarker(r.label()));
                }
                if let Some((due, r)) = self.expiration_of(&subject, day_ms)
                    && due <= now_ms
                {
                    return Some(Decision::Expire(r.label()));
                }
                self.deepest(
                    rules().flat_map(|r| {
                        r.transitions.iter().filter_map(move |t| {
                            let due = match (t.days, t.date.as_deref()) {
                                (Some(d), _) => due_after(v.created_ms, d, day_ms),
                                (None, Some(date)) => parse_date(date).ok()?,
                                (None, None) => return None,
                            };
                            (due <= now_ms).then_some((r, t.storage_class.as_str()))
                        })
                    }),
                    v,
                )
            }
        }
    }

    /// The deepest class among due transitions that this version may move to.
    fn deepest<'a>(
        &self,
        due: impl Iterator<Item = (&'a Rule, &'a str)>,
        v: &Version<'_>,
    ) -> Option<Decision> {
        // A validated configuration names only classes that parse.
        due.filter_map(|(r, class)| Some((r, StorageClass::parse(class)?)))
            .filter(|&(r, class)| {
                v.storage_class.can_transition_to(class) && self.size_allows(r, class, v.size)
            })
            .max_by_key(|&(_, class)| class.waterfall_depth())
            .map(|(r, to)| Decision::Transition {
                rule: r.label(),
                to,
            })
    }

    /// The default minimum size, unless the rule's filter names a size of its own.
    fn size_allows(&self, rule: &Rule, class: StorageClass, size: u64) -> bool {
        if rule.has_size_filter() || size >= MIN_TRANSITION_SIZE {
            return true;
        }
        self.min_size_behaviour() == MIN_SIZE_VARIES && class.is_archive()
    }

    /// Whether an upload of `key` initiated at `initiated_ms` is aborted by now, and by which
    /// rule.
    #[must_use]
    pub fn abort_upload(
        &self,
        key: &str,
        initiated_ms: i64,
        now_ms: i64,
        day_ms: i64,
    ) -> Option<String> {
        self.rules
            .iter()
            .filter(|r| r.enabled() && key.starts_with(r.key_prefix()))
            .find(|r| {
                r.abort_incomplete_multipart_upload
                    .as_ref()
                    .is_some_and(|a| {
                        due_after(initiated_ms, a.days_after_initiation, day_ms) <= now_ms
                    })
            })
            .map(Rule::label)
    }
}

/// What a rule's filter is tested against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Object key.
    pub key: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Its tags.
    pub tags: &'a BTreeMap<String, String>,
    /// When it was created (ms since the epoch).
    pub base_ms: i64,
}

/// One version as the lifecycle sees it.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    /// Object key.
    pub key: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Its tags.
    pub tags: &'a BTreeMap<String, String>,
    /// When it was written (ms since the epoch).
    pub created_ms: i64,
    /// Its storage class.
    pub storage_class: StorageClass,
    /// A delete marker.
    pub delete_marker: bool,
    /// Current or noncurrent.
    pub state: State,
}

/// Where a version stands among its key's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The newest version.
    Current {
        /// No other version of the key exists.
        only_version: bool,
    },
    /// An older version.
    Noncurrent {
        /// When the next newer version was written.
        since_ms: i64,
        /// How many noncurrent versions are newer than this one.
        newer_noncurrent: u32,
    },
}

/// What the lifecycle does to a version; each names the rule (its ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Move to another storage class.
    Transition {
        /// The rule.
        rule: String,
        /// The class.
        to: StorageClass,
    },
    /// Expire the current version (a delete marker where versioning is on).
    Expire(String),
    /// Delete a noncurrent version for good.
    DeleteVersion(String),
    /// Remove a delete marker that is the key's only version.
    RemoveDeleteMarker(String),
}
