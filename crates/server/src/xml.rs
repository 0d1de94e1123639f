//! XML text, once: the escaping of the error bodies the shell and the CloudWatch endpoint
//! write themselves (s3s writes its own).

/// `s` with `&`, `<`, `>`, `"` and `'` escaped, for XML text and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            super::escape(r#"<a b="c">&'d'</a>"#),
            "&lt;a b=&quot;c&quot;&gt;&amp;&apos;d&apos;&lt;/a&gt;"
        );
    }
}
