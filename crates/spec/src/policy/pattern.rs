//! Wildcard patterns (`*` any run, `?` one character) and policy variables.

use std::borrow::Cow;

/// Whether `text` matches `pattern` with `*` and `?` wildcards.
#[must_use]
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    // Actions and ARNs are ASCII in practice: match bytes without allocating. `?` stands for
    // one character, so anything else goes through the char-based matcher.
    if pattern.is_ascii() && text.is_ascii() {
        let eq = |a: u8, b: u8| {
            if ignore_case {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        };
        return matches(pattern.as_bytes(), text.as_bytes(), b'*', b'?', eq);
    }
    let lower = |s: &str| {
        if ignore_case {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let p: Vec<char> = lower(pattern).chars().collect();
    let t: Vec<char> = lower(text).chars().collect();
    matches(&p, &t, '*', '?', |a, b| a == b)
}

/// Whether some text starting with `prefix` matches `pattern` (`*`, `?` wildcards, case
/// sensitive): the pattern's literal part must agree with the prefix up to its first `*`.
#[must_use]
pub fn could_match_prefix(pattern: &str, prefix: &str) -> bool {
    let mut text = prefix.chars();
    for p in pattern.chars() {
        match p {
            // A star absorbs the rest of the prefix; whatever follows it can be chosen.
            '*' => return true,
            _ => match text.next() {
                // The prefix is used up: the rest of the text can be chosen to match.
                None => return true,
                Some(t) if p == '?' || p == t => {}
                Some(_) => return false,
            },
        }
    }
    // The pattern ended: it matches only if the prefix did too.
    text.next().is_none()
}

/// Iterative matcher with backtracking to the last star: linear in practice, no recursion.
fn matches<T: Copy + PartialEq>(
    p: &[T],
    t: &[T],
    star_sym: T,
    one: T,
    eq: impl Fn(T, T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != star_sym && (p[pi] == one || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star_sym {
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
    p[pi..].iter().all(|c| *c == star_sym)
}

/// Replaces `${key}` policy variables from `lookup`; `${*}`, `${?}`, `${$}` stand for the
/// literal characters. An unknown variable makes the pattern unmatchable (`None`), as AWS
/// treats a missing key.
pub fn substitute<'p>(
    pattern: &'p str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<Cow<'p, str>> {
    if !pattern.contains("${") {
        return Some(Cow::Borrowed(pattern));
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
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_that_could_match_some_key_under_a_prefix() {
        let b = "arn:aws:s3:::assets/";
        for (pattern, could) in [
            ("arn:aws:s3:::assets/*", true),
            ("arn:aws:s3:::assets/uploads/*", true),
            ("arn:aws:s3:::assets/exact.txt", true),
            ("arn:aws:s3:::*", true),
            ("*", true),
            ("arn:aws:s3:::asset?/x", true),
            ("arn:aws:s3:::assets", false),
            ("arn:aws:s3:::logs/*", false),
            ("arn:aws:s3:::assets-old/*", false),
        ] {
            assert_eq!(could_match_prefix(pattern, b), could, "{pattern}");
            // Consistent with the matcher: whenever some key matches, `could` said so.
            for key in ["x", "uploads/a", "exact.txt"] {
                if wildcard(pattern, &format!("{b}{key}"), false) {
                    assert!(could, "{pattern} matches {key}");
                }
            }
        }
    }

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
        // `?` is one character, also beyond ASCII; a literal `*` in the text needs a `*`.
        assert!(wildcard("a?c", "aéc", false));
        assert!(wildcard("É*", "éa", true));
        assert!(!wildcard("a*", "b*", false));
    }

    #[test]
    fn variables() {
        let lookup = |k: &str| (k == "aws:username").then(|| "ana".to_string());
        assert_eq!(
            substitute("home/${aws:username}/*", &lookup).as_deref(),
            Some("home/ana/*")
        );
        assert_eq!(substitute("x${*}y", &lookup).as_deref(), Some("x*y"));
        assert!(substitute("${aws:userid}", &lookup).is_none());
    }
}
