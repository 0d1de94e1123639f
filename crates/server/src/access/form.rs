//! The condition keys and tags of a browser POST upload's form fields.

use leadshop_spec::policy::Context;
use s3s::{S3Result, s3_error};

use crate::shell::post_form::PostForm;

/// The condition keys a POST form carries, as a PutObject carries them in headers.
pub(super) fn post_form_context(cx: &mut Context, form: &PostForm) -> S3Result<()> {
    // A form names the canned ACL `acl` as well as `x-amz-acl`.
    for &(key, field) in super::conditions::WRITE_KEYS
        .iter()
        .chain(&[("s3:x-amz-acl", "acl")])
    {
        if let Some(v) = form.get(field) {
            cx.set(key, v);
        }
    }
    if form.get("x-amz-algorithm").is_some() {
        cx.set("s3:signatureversion", "AWS4-HMAC-SHA256");
    } else if form.get("signature").is_some() {
        cx.set("s3:signatureversion", "AWS");
    }
    if let Some(xml) = form.get("tagging") {
        let tags = post_form_tags(xml)?;
        for (k, v) in &tags {
            cx.set(&format!("s3:RequestObjectTag/{k}"), v.clone());
        }
        cx.set_all(
            "s3:RequestObjectTagKeys",
            tags.into_iter().map(|(k, _)| k).collect(),
        );
    }
    Ok(())
}

/// The tags of a POST form's `tagging` field (a `<Tagging>` document, as in PutObjectTagging).
///
/// # Errors
/// MalformedXML when it does not parse.
pub fn post_form_tags(xml: &str) -> S3Result<Vec<(String, String)>> {
    use s3s::xml::Deserialize as _;
    let tagging = s3s::dto::Tagging::deserialize(&mut s3s::xml::Deserializer::new(xml.as_bytes()))
        .map_err(|_| {
            s3_error!(
                MalformedXML,
                "The tagging field of the POST form is not a valid Tagging document."
            )
        })?;
    Ok(tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect())
}
