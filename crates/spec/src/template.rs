//! `${name}` placeholders in spec documents, rendered as Terraform's `templatefile()` renders
//! them, so the local server and Terraform read the same files. Policy variables such as
//! `${aws:username}` (names with a `:`) are left for the policy engine.

/// Renders `${name}` placeholders from `vars`.
///
/// # Errors
/// A placeholder without a value, named, so a typo in a document cannot reach a policy.
pub fn render(text: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("unterminated ${ placeholder".into());
        };
        let name = &after[..end];
        if name.contains(':') {
            // A policy variable: kept verbatim.
            out.push_str(&rest[start..start + 2 + end + 1]);
        } else {
            let value = vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("no value for the placeholder ${{{name}}}"))?;
            out.push_str(value);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn placeholders_render_and_policy_variables_stay() {
        let vars = [("bucket", "b"), ("account_id", "1")];
        assert_eq!(
            render(
                "arn:aws:s3:::${bucket}/${aws:username}/* ${account_id}",
                &vars
            )
            .unwrap(),
            "arn:aws:s3:::b/${aws:username}/* 1"
        );
        assert!(render("${nope}", &vars).unwrap_err().contains("nope"));
        assert!(render("${bucket", &vars).is_err());
    }
}
