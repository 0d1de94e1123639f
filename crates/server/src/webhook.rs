//! The budget alarm's webhook: an `http://host:port/path` URL (`budget.webhook_url`, checked
//! when the configuration is read) and the one POST of a notification to it.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// An `http://host:port/path` webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// `host:port`.
    pub authority: String,
    /// `/path?query`.
    pub path: String,
}

impl Webhook {
    /// Parses an `http://` URL.
    #[must_use]
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Some(Self {
            authority,
            path: path.to_string(),
        })
    }

    /// POSTs `body`; `Ok` when the answer is 2xx.
    pub(crate) async fn post(&self, body: &str) -> Result<(), String> {
        let send = async {
            let mut conn = tokio::net::TcpStream::connect(&self.authority)
                .await
                .map_err(|e| e.to_string())?;
            let head = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nx-amz-sns-message-type: Notification\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                self.path,
                self.authority,
                body.len()
            );
            conn.write_all(head.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            conn.write_all(body.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut answer = vec![0u8; 64];
            let n = conn.read(&mut answer).await.map_err(|e| e.to_string())?;
            let line = String::from_utf8_lossy(&answer[..n]);
            match line.split(' ').nth(1) {
                Some(code) if code.starts_with('2') => Ok(()),
                other => Err(format!("answered {}", other.unwrap_or("nothing"))),
            }
        };
        tokio::time::timeout(Duration::from_secs(10), send)
            .await
            .map_err(|_| "timed out".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_http_urls() {
        assert_eq!(
            Webhook::parse("http://127.0.0.1:8080/hook?x=1"),
            Some(Webhook {
                authority: "127.0.0.1:8080".into(),
                path: "/hook?x=1".into()
            })
        );
        assert_eq!(
            Webhook::parse("http://alerts").unwrap().authority,
            "alerts:80"
        );
        assert!(Webhook::parse("https://x/").is_none());
        assert!(Webhook::parse("http://user@x/").is_none());
    }
}
