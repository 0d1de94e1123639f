//! Console sessions: a random token in an HttpOnly, SameSite=Strict cookie, kept only as its
//! SHA-256 here, with a CSRF token every state-changing call must echo in a header.
//!
//! A session names an access key by id, never holds its secret: each request looks the key
//! up again, so a key rotated or deleted with `leadshop keys` ends its sessions at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The cookie's name.
pub const COOKIE: &str = "leadshop_console";
/// How long a session lasts from sign-in (the cookie's Max-Age).
pub const LIFETIME: Duration = Duration::from_secs(3600);
/// Sessions kept at most per access key; signing in beyond it ends that key's oldest.
const MAX_PER_KEY: usize = 32;
/// Sessions kept at most in all; beyond it the oldest session of the key holding the most
/// goes (so no key can end another key's sessions by signing in many times).
const MAX_SESSIONS: usize = 4096;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The access key id signed in with.
    pub access_key_id: String,
    /// Echoed by the page in `X-CSRF-Token`.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
}

/// The sessions of one server.
#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

fn token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session for a key; returns the cookie token and the session.
    pub fn start(&self, access_key_id: &str, now: Instant) -> (String, Session) {
        let cookie = token();
        let session = Session {
            access_key_id: access_key_id.to_string(),
            csrf: token(),
            expires: now + LIFETIME,
        };
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.expires > now);
        let mut per_key: HashMap<&str, usize> = HashMap::new();
        for s in map.values() {
            *per_key.entry(s.access_key_id.as_str()).or_default() += 1;
        }
        let over = if per_key.get(access_key_id).copied().unwrap_or(0) >= MAX_PER_KEY {
            Some(access_key_id.to_string())
        } else if map.len() >= MAX_SESSIONS {
            per_key
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(k, _)| (*k).to_string())
        } else {
            None
        };
        if let Some(key) = over
            && let Some(oldest) = map
                .iter()
                .filter(|(_, s)| s.access_key_id == key)
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(hash(&cookie), session.clone());
        (cookie, session)
    }

    /// The live session of a cookie token.
    pub fn get(&self, cookie: &str, now: Instant) -> Option<Session> {
        let key = hash(cookie);
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of a cookie token.
    pub fn end(&self, cookie: &str) {
        let mut map = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&hash(cookie));
    }
}

/// The session token in a `Cookie` header.
#[must_use]
pub fn cookie_token(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then_some(v)
        })
}

/// Compares two tokens without stopping at the first difference.
#[must_use]
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_end() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (cookie, session) = s.start("AKIA1", t0);
        assert_eq!(s.get(&cookie, t0).unwrap().csrf, session.csrf);
        assert!(s.get("not-a-token", t0).is_none());
        assert!(s.get(&cookie, t0 + LIFETIME).is_none(), "expired");
        let (cookie, _) = s.start("AKIA1", t0);
        s.end(&cookie);
        assert!(s.get(&cookie, t0).is_none(), "signed out");
    }

    #[test]
    fn sessions_are_capped_per_key_so_one_key_cannot_end_anothers() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (admin, _) = s.start("AKIAADMIN", t0);
        let (first_app, _) = s.start("AKIAAPP", t0);
        // The probe's 256 sign-ins with the app key, and more.
        for i in 1..=300 {
            s.start("AKIAAPP", t0 + Duration::from_millis(i));
        }
        assert!(s.get(&admin, t0).is_some(), "the admin's session lives on");
        assert!(s.get(&first_app, t0).is_none(), "the app key's oldest went");
        let map = s.by_hash.lock().unwrap();
        assert_eq!(
            map.values()
                .filter(|x| x.access_key_id == "AKIAAPP")
                .count(),
            MAX_PER_KEY
        );
    }

    #[test]
    fn when_full_the_key_holding_most_gives_way() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let (admin, _) = s.start("AKIAADMIN", t0);
        // Many keys, each at its cap, fill the table.
        for k in 0..MAX_SESSIONS / MAX_PER_KEY {
            for i in 0..MAX_PER_KEY {
                s.start(
                    &format!("K{k}"),
                    t0 + Duration::from_millis((k * 100 + i) as u64),
                );
            }
        }
        assert_eq!(s.by_hash.lock().unwrap().len(), MAX_SESSIONS);
        s.start("AKIANEW", t0);
        assert!(s.get(&admin, t0).is_some());
        assert_eq!(s.by_hash.lock().unwrap().len(), MAX_SESSIONS);
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; leadshop_console=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_token(&h), Some("tok"));
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
