//! The lifecycle model's tests: the decision on AWS's examples and the validation.
use std::collections::BTreeMap;

use super::*;
use crate::storage_class::StorageClass;

const DAY: i64 = 86_400_000;

fn baseline() -> LifecycleConfiguration {
    LifecycleConfiguration::parse(include_str!(
        "../../../../config/buckets/leadshop-assets/lifecycle.json"
    ))
    .unwrap()
}

fn current<'a>(
    key: &'a str,
    size: u64,
    created: i64,
    tags: &'a BTreeMap<String, String>,
) -> Version<'a> {
    Version {
        key,
        size,
        tags,
        created_ms: created,
        storage_class: StorageClass::Standard,
        delete_marker: false,
        state: State::Current { only_version: true },
    }
}

#[test]
fn days_round_up_to_the_next_midnight() {
    let created = 10 * DAY + 3_600_000; // 01:00 on day 10
    assert_eq!(due_after(created, 30, DAY), 41 * DAY);
    assert_eq!(due_after(10 * DAY, 30, DAY), 40 * DAY);
    assert_eq!(due_after(1500, 1, 1000), 3000);
}

#[test]
fn the_baseline_moves_large_objects_to_ia_after_30_days_and_expires_tmp() {
    let c = baseline();
    let tags = BTreeMap::new();
    let created = 100 * DAY + 5;
    let big = current("reports/a.pdf", 200_000, created, &tags);
    assert_eq!(
        c.decide(&big, 130 * DAY, DAY),
        None,
        "not yet: due at the midnight after"
    );
    assert_eq!(
        c.decide(&big, 131 * DAY, DAY),
        Some(Decision::Transition {
            rule: "standard-ia-after-30-days".into(),
            to: StorageClass::StandardIa
        })
    );
    let small = current("reports/a.txt", 1000, created, &tags);
    assert_eq!(
        c.decide(&small, 200 * DAY, DAY),
        None,
        "under 128 KiB stays"
    );
    let tmp = current("tmp/upload", 200_000, created, &tags);
    assert_eq!(
        c.decide(&tmp, 102 * DAY, DAY),
        Some(Decision::Expire("expire-temporary-uploads".into()))
    );
    let (due, rule) = c
        .expiration_of(
            &Subject {
                key: "tmp/x",
                size: 1,
                tags: &tags,
                base_ms: created,
            },
            DAY,
        )
        .unwrap();
    assert_eq!(
        (due, rule.label().as_str()),
        (102 * DAY, "expire-temporary-uploads")
    );
    assert_eq!(
        c.abort_upload("a", created, 108 * DAY, DAY).as_deref(),
        Some("standard-ia-after-30-days")
    );
    assert_eq!(c.abort_upload("a", created, 107 * DAY, DAY), None);
}

#[test]
fn noncurrent_versions_transition_then_expire_and_keep_the_newest() {
    let c = baseline();
    let tags = BTreeMap::new();
    let mut v = current("a", 200_000, 0, &tags);
    v.state = State::Noncurrent {
        since_ms: 10 * DAY,
        newer_noncurrent: 0,
    };
    assert_eq!(c.decide(&v, 39 * DAY, DAY), None);
    assert!(matches!(
        c.decide(&v, 40 * DAY, DAY),
        Some(Decision::Transition { .. })
    ));
    assert_eq!(
        c.decide(&v, 100 * DAY, DAY),
        Some(Decision::DeleteVersion("standard-ia-after-30-days".into()))
    );
    let keep = LifecycleConfiguration::parse(
        r#"{"Rules":[{"ID":"k","Status":"Enabled","Filter":{},
            "NoncurrentVersionExpiration":{"NoncurrentDays":1,"NewerNoncurrentVersions":2}}]}"#,
    )
    .unwrap();
    v.state = State::Noncurrent {
        since_ms: 0,
        newer_noncurrent: 1,
    };
    assert_eq!(keep.decide(&v, 10 * DAY, DAY), None, "one of the two kept");
    v.state = State::Noncurrent {
        since_ms: 0,
        newer_noncurrent: 2,
    };
    assert!(keep.decide(&v, 10 * DAY, DAY).is_some());
}

#[test]
fn filters_select_by_prefix_tags_and_size() {
    let c = LifecycleConfiguration::parse(
        r#"{"Rules":[{"ID":"t","Status":"Enabled",
            "Filter":{"And":{"Prefix":"p/","Tags":[{"Key":"k","Value":"v"}],"ObjectSizeGreaterThan":10}},
            "Transitions":[{"Days":0,"StorageClass":"GLACIER"}]}]}"#,
    )
    .unwrap();
    let mut tags = BTreeMap::new();
    assert_eq!(
        c.decide(&current("p/a", 100, 0, &tags), DAY, DAY),
        None,
        "no tag"
    );
    tags.insert("k".to_string(), "v".to_string());
    assert!(
        c.decide(&current("p/a", 100, 0, &tags), DAY, DAY).is_some(),
        "custom size filter beats the 128 KiB default"
    );
    assert_eq!(c.decide(&current("p/a", 5, 0, &tags), DAY, DAY), None);
    assert_eq!(c.decide(&current("q/a", 100, 0, &tags), DAY, DAY), None);
}

#[test]
fn transitions_only_go_down_and_the_deepest_due_wins() {
    let c = LifecycleConfiguration::parse(
        r#"{"Rules":[{"ID":"t","Status":"Enabled","Filter":{"Prefix":""},
            "Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":60,"StorageClass":"GLACIER"}]}]}"#,
    )
    .unwrap();
    let tags = BTreeMap::new();
    let v = current("a", 1 << 20, 0, &tags);
    let to = |now| match c.decide(&v, now, DAY) {
        Some(Decision::Transition { to, .. }) => Some(to),
        _ => None,
    };
    assert_eq!(to(30 * DAY), Some(StorageClass::StandardIa));
    assert_eq!(to(90 * DAY), Some(StorageClass::Glacier));
    let mut deep = v;
    deep.storage_class = StorageClass::DeepArchive;
    assert_eq!(c.decide(&deep, 90 * DAY, DAY), None);
    assert!(!StorageClass::OnezoneIa.can_transition_to(StorageClass::GlacierIr));
    assert!(StorageClass::StandardIa.can_transition_to(StorageClass::Glacier));
}

#[test]
fn delete_markers_that_hide_nothing_are_removed() {
    let c = LifecycleConfiguration::parse(
        r#"{"Rules":[{"ID":"m","Status":"Enabled","Filter":{"Prefix":""},
            "Expiration":{"ExpiredObjectDeleteMarker":true}}]}"#,
    )
    .unwrap();
    let tags = BTreeMap::new();
    let mut m = current("a", 0, 0, &tags);
    m.delete_marker = true;
    assert_eq!(
        c.decide(&m, DAY, DAY),
        Some(Decision::RemoveDeleteMarker("m".into()))
    );
    m.state = State::Current {
        only_version: false,
    };
    assert_eq!(c.decide(&m, DAY, DAY), None);
}

#[test]
fn invalid_configurations_are_refused_as_aws_does() {
    let refuse = |json: &str| LifecycleConfiguration::parse(json).unwrap_err();
    let rule = |body: &str| format!(r#"{{"Rules":[{{"ID":"r","Status":"Enabled",{body}}}]}}"#);
    assert_eq!(refuse(r#"{"Rules":[]}"#).code, "MalformedXML");
    let e = refuse(&rule(
        r#""Filter":{"Prefix":""},"Transitions":[{"Days":10,"StorageClass":"STANDARD_IA"}]"#,
    ));
    assert_eq!(e.code, "InvalidArgument");
    assert!(
        e.message
            .contains("greater than or equal to 30 for storageClass 'STANDARD_IA'")
    );
    assert_eq!(
        refuse(&rule(r#""Filter":{"Prefix":""}"#)).code,
        "InvalidRequest"
    );
    assert_eq!(
        refuse(&rule(r#""Filter":{"Prefix":""},"Expiration":{"Days":0}"#)).code,
        "InvalidArgument"
    );
    assert_eq!(
        refuse(&rule(r#""Filter":{"Prefix":""},"Expiration":{"Days":30},"Transitions":[{"Days":30,"StorageClass":"GLACIER"}]"#)).code,
        "InvalidArgument"
    );
    assert_eq!(
        refuse(&rule(
            r#""Filter":{"Prefix":""},"Transitions":[{"Days":1,"StorageClass":"STANDARD"}]"#
        ))
        .code,
        "MalformedXML"
    );
    assert_eq!(refuse(&rule(r#""Filter":{"Tag":{"Key":"a","Value":"b"}},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":1}"#)).code, "InvalidRequest");
    assert_eq!(
        refuse(&rule(
            r#""Filter":{"Prefix":""},"Expiration":{"Date":"2027-01-01T10:00:00Z"}"#
        ))
        .message,
        "'Date' must be at midnight GMT"
    );
    assert_eq!(
        refuse(&rule(
            r#""Filter":{"Prefix":"a","Tag":{"Key":"a","Value":"b"}},"Expiration":{"Days":1}"#
        ))
        .code,
        "MalformedXML"
    );
    assert_eq!(refuse(r#"{"Rules":[{"ID":"a","Status":"Enabled","Filter":{},"Expiration":{"Days":1}},{"ID":"a","Status":"Enabled","Filter":{},"Expiration":{"Days":2}}]}"#).code, "InvalidArgument");
    assert_eq!(refuse(&rule(r#""Filter":{"Prefix":""},"NoncurrentVersionExpiration":{"NoncurrentDays":1,"NewerNoncurrentVersions":101}"#)).code, "InvalidArgument");
    assert_eq!(
        parse_date("2027-01-01T00:00:00.000Z").unwrap(),
        1_798_761_600_000
    );
}
