//! The AWS shared-credentials file (`credentials`, INI): profiles with an access key id and a
//! secret. The server writes it for clients; `leadshop env` and key adoption read it.

/// One profile: name, access key id, secret.
pub type Profile = (String, String, String);

/// Renders profiles `(name, id, secret)` in the AWS shared-credentials (INI) format.
#[must_use]
pub fn render_profiles(profiles: &[Profile]) -> String {
    let mut out = String::from(
        "# leadshop access keys (AWS shared-credentials format). Keep this file private.\n\
         # Client side only: the server reads keys.json; `leadshop keys` keeps this file in step.\n",
    );
    for (name, id, secret) in profiles {
        out.push_str(&format!(
            "\n[{name}]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"
        ));
    }
    out
}

/// Parses the AWS shared-credentials format (profiles with the two key fields).
///
/// # Errors
/// A message naming the line or profile that is malformed.
pub fn parse_profiles(text: &str) -> Result<Vec<Profile>, String> {
    let mut out = Vec::new();
    let mut current: Option<(String, Option<String>, Option<String>)> = None;
    let finish =
        |c: Option<(String, Option<String>, Option<String>)>, out: &mut Vec<Profile>| match c {
            None => Ok(()),
            Some((name, Some(id), Some(secret))) => {
                out.push((name, id, secret));
                Ok(())
            }
            Some((name, _, _)) => Err(format!(
                "profile [{name}] lacks aws_access_key_id or aws_secret_access_key"
            )),
        };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(current.take(), &mut out)?;
            current = Some((name.trim().to_string(), None, None));
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected key = value", n + 1))?;
        let entry = current
            .as_mut()
            .ok_or_else(|| format!("line {}: value outside a [profile]", n + 1))?;
        match k.trim() {
            "aws_access_key_id" => entry.1 = Some(v.trim().to_string()),
            "aws_secret_access_key" => entry.2 = Some(v.trim().to_string()),
            _ => {}
        }
    }
    finish(current, &mut out)?;
    Ok(out)
}

/// The key id and secret of profile `name`, if the file has it whole.
#[must_use]
pub fn profile(text: &str, name: &str) -> Option<(String, String)> {
    parse_profiles(text)
        .ok()?
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, id, secret)| (id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_and_are_found_by_name() {
        let text = render_profiles(&[
            ("admin".into(), "A1".into(), "S1".into()),
            ("app".into(), "A2".into(), "S2".into()),
        ]);
        assert_eq!(profile(&text, "app"), Some(("A2".into(), "S2".into())));
        assert_eq!(profile(&text, "nope"), None);
        let loose = "[app]\naws_access_key_id=A2\naws_secret_access_key=S2\n";
        assert_eq!(profile(loose, "app"), Some(("A2".into(), "S2".into())));
        assert!(parse_profiles("[app]\naws_access_key_id = A\n").is_err());
        assert!(parse_profiles("key = outside\n").is_err());
    }
}
