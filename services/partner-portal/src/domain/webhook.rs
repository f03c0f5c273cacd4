//! Webhook rules. A partner's receiver checks `Recommerce-Webhook-Signature` against its
//! secret; the portal refuses targets that would let a partner reach our own network.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`: the timestamp is signed too, so a
/// captured delivery cannot be replayed later with a fresh timestamp.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an address is on the public internet (not ours, not a neighbour's).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(mapped) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(mapped));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("not a valid absolute URL")]
    Invalid,
    #[error("only http and https URLs can receive webhooks")]
    Scheme,
    #[error("URLs with credentials are not accepted")]
    Credentials,
    #[error("longer than 2048 characters")]
    TooLong,
    #[error("targets a private, loopback or link-local address")]
    Private,
}

/// Checks a webhook URL as written. Host names are checked again, resolved, at delivery.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, UrlRefused> {
    if raw.len() > 2048 {
        return Err(UrlRefused::TooLong);
    }
    let url = url::Url::parse(raw).map_err(|_| UrlRefused::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    let host = url.host().ok_or(UrlRefused::Invalid)?;
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost"
                    || name.ends_with(".localhost")
                    || name.ends_with(".internal")
                    || name.ends_with(".local")
            }
        };
        if private {
            return Err(UrlRefused::Private);
        }
    }
    Ok(url)
}

/// What one attempt at a delivery leaves it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Given up: the webhook is gone, or the round's attempts are spent. A redelivery
    /// starts a new round.
    Failed,
    /// Tried again after the retry delay for this many tries.
    Retry {
        tries: u32,
    },
}

/// The rule for a delivery after its `tries`-th attempt of the round: delivered on a 2xx,
/// failed when the webhook is gone or `max_attempts` are spent, else retried later.
pub fn after_attempt(
    delivered: bool,
    webhook_exists: bool,
    tries: u32,
    max_attempts: u32,
) -> AfterAttempt {
    if delivered {
        AfterAttempt::Delivered
    } else if !webhook_exists || tries >= max_attempts {
        AfterAttempt::Failed
    } else {
        AfterAttempt::Retry { tries }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delivery_is_retried_until_its_attempts_are_spent_or_its_webhook_is_gone() {
        use super::{AfterAttempt, after_attempt};
        assert_eq!(after_attempt(true, true, 1, 3), AfterAttempt::Delivered);
        assert_eq!(
            after_attempt(false, true, 1, 3),
            AfterAttempt::Retry { tries: 1 }
        );
        assert_eq!(after_attempt(false, true, 3, 3), AfterAttempt::Failed);
        assert_eq!(after_attempt(false, false, 1, 3), AfterAttempt::Failed);
    }

    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let one = signature("secret", 1_700_000_000, b"{}");
        assert!(one.starts_with("v1="));
        assert_eq!(one.len(), 3 + 64);
        assert_eq!(one, signature("secret", 1_700_000_000, b"{}"));
        assert_ne!(one, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(one, signature("other", 1_700_000_000, b"{}"));
        assert_ne!(one, signature("secret", 1_700_000_000, b"{ }"));
    }

    #[test]
    fn only_public_http_targets_pass_unless_private_ones_are_allowed() {
        assert!(check_url("https://hooks.example.com/recommerce", false).is_ok());
        assert_eq!(
            check_url("file:///etc/passwd", false),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("gopher://x.example", false),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("http://u:p@x.example/", false),
            Err(UrlRefused::Credentials)
        );
        for private in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://localhost:8080/",
        ] {
            assert_eq!(
                check_url(private, false),
                Err(UrlRefused::Private),
                "{private}"
            );
        }
        assert!(check_url("http://127.0.0.1:9/hooks", true).is_ok());
        assert_eq!(check_url("not a url", true), Err(UrlRefused::Invalid));
    }
}
