//! What a write asks for beyond writing the object: an ACL, tags, a retention or a legal
//! hold. AWS authorises each with its own action, on the object, whether the write is a
//! PutObject, a CopyObject, a CreateMultipartUpload or a browser POST form
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html>, "Permissions"):
//! `s3:PutObject` alone must not make an object public, tag it, or lock it for a century.

/// The extra actions a write's headers (or POST form fields, which carry the same names, the
/// form's `acl` and `tagging` besides) ask for, given a lookup of a present header or field.
#[must_use]
pub fn extra_actions(present: impl Fn(&str) -> bool, has_grant: bool) -> Vec<&'static str> {
    let mut actions = Vec::new();
    if present("x-amz-acl") || present("acl") || has_grant {
        actions.push("s3:PutObjectAcl");
    }
    if present("x-amz-tagging") || present("tagging") {
        actions.push("s3:PutObjectTagging");
    }
    if present("x-amz-object-lock-mode") || present("x-amz-object-lock-retain-until-date") {
        actions.push("s3:PutObjectRetention");
    }
    if present("x-amz-object-lock-legal-hold") {
        actions.push("s3:PutObjectLegalHold");
    }
    actions
}

/// The extra actions of a request's headers (`acl` and `tagging` are form names only).
#[must_use]
pub fn of_headers(headers: &http::HeaderMap) -> Vec<&'static str> {
    let grant = headers
        .keys()
        .any(|k| k.as_str().starts_with("x-amz-grant-"));
    extra_actions(
        |name| !matches!(name, "acl" | "tagging") && headers.contains_key(name),
        grant,
    )
}

/// What a replica (`x-leadshop-replica-of`, a leadshop destination's side of replication) asks
/// for besides the write itself: `s3:ReplicateObject` on a PutObject, `s3:ReplicateDelete` on
/// a DeleteObject.
#[must_use]
pub fn replication_action(
    operation: leadshop_spec::Operation,
    headers: &http::HeaderMap,
) -> Option<&'static str> {
    use leadshop_spec::Operation as O;
    if !headers.contains_key(leadshop_spec::replication::REPLICA_HEADER) {
        return None;
    }
    match operation {
        O::PutObject => Some("s3:ReplicateObject"),
        O::DeleteObject => Some("s3:ReplicateDelete"),
        _ => None,
    }
}

/// Canned ACLs that grant others than the owner.
pub const PUBLIC_CANNED_ACLS: [&str; 3] =
    ["public-read", "public-read-write", "authenticated-read"];

/// Whether a request asks for a public canned ACL or grants to everyone.
#[must_use]
pub fn carries_public_acl(headers: &http::HeaderMap) -> bool {
    let canned = headers
        .get("x-amz-acl")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| PUBLIC_CANNED_ACLS.contains(&v.trim()));
    let grants = headers.iter().any(|(k, v)| {
        k.as_str().starts_with("x-amz-grant-")
            && v.to_str()
                .is_ok_and(|v| v.contains("AllUsers") || v.contains("AuthenticatedUsers"))
    });
    canned || grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_header_asks_for_its_own_action() {
        let mut h = http::HeaderMap::new();
        assert!(of_headers(&h).is_empty());
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        h.insert("x-amz-tagging", "a=b".parse().unwrap());
        h.insert("x-amz-object-lock-mode", "COMPLIANCE".parse().unwrap());
        h.insert("x-amz-object-lock-legal-hold", "ON".parse().unwrap());
        assert_eq!(
            of_headers(&h),
            [
                "s3:PutObjectAcl",
                "s3:PutObjectTagging",
                "s3:PutObjectRetention",
                "s3:PutObjectLegalHold"
            ]
        );
        let mut g = http::HeaderMap::new();
        g.insert("x-amz-grant-read", "uri=x".parse().unwrap());
        assert_eq!(of_headers(&g), ["s3:PutObjectAcl"]);
        // A header named like a form field is not one.
        let mut f = http::HeaderMap::new();
        f.insert("acl", "public-read".parse().unwrap());
        assert!(of_headers(&f).is_empty());
    }
}
