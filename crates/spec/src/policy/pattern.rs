//! Wildcard patterns (`*` any run, `?` one character) and policy variables.

/// Whether `text` matches `pattern` with `*` and `?` wildcards.
#[must_use]
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = if ignore_case {
        pattern.to_lowercase().chars().collect()
    } else {
        pattern.chars().collect()
    };
    let t: Vec<char> = if ignore_case {
        text.to_lowercase().chars().collect()
    } else {
        text.chars().collect()
    };
    // Iterative matcher with backtracking to the last star: linear in practice, no recursion.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Replaces `${key}` policy variables from `lookup`; `${*}`, `${?}`, `${$}` stand for the
/// literal characters. An unknown variable makes the pattern unmatchable (`None`), as AWS
/// treats a missing key.
pub fn substitute(pattern: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if !pattern.contains("${") {
        return Some(pattern.to_string());
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 2..];
        let end = tail.find('}')?;
        let name = &tail[..end];
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => out.push_str(&lookup(name)?),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("s3:Get*", "s3:GetObject", false));
        assert!(wildcard("s3:*", "s3:PutBucketPolicy", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", false));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b", false));
        assert!(wildcard("a?c", "abc", false));
        assert!(!wildcard("a?c", "ac", false));
        assert!(wildcard("S3:getobject", "s3:GetObject", true));
        assert!(!wildcard("S3:getobject", "s3:GetObject", false));
        assert!(wildcard("*a*b*", "xxaxxbxx", false));
        assert!(!wildcard("*a*b", "xxaxxbxx", false));
    }

    #[test]
    fn variables() {
        let lookup = |k: &str| (k == "aws:username").then(|| "ana".to_string());
        assert_eq!(
            substitute("home/${aws:username}/*", &lookup).as_deref(),
            Some("home/ana/*")
        );
        assert_eq!(substitute("x${*}y", &lookup).as_deref(), Some("x*y"));
        assert_eq!(substitute("${aws:userid}", &lookup), None);
    }
}
