//! Webhooks, their deliveries and attempts, and the rules about them. A partner's receiver
//! checks `Recommerce-Webhook-Signature` against its secret; the portal refuses targets that
//! would let a partner reach our own network; what an attempt leaves a delivery in is
//! decided here and only written by the store.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use super::job::PortalJob;

/// A partner's webhook: where its deliveries go and the secret they are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub partner_id: Uuid,
    pub url: String,
    /// Kept as given to the partner: signing needs the key itself.
    pub secret: String,
    /// `false` once removed; it stays for the delivery log.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether `partner_id` may see and change this webhook: its own, not removed.
    pub fn is_active_for(&self, partner_id: Uuid) -> bool {
        self.active && self.partner_id == partner_id
    }
}

platform::named_enum! {
    /// What a delivery tells a partner about its job (the payload's `type`).
    pub enum WebhookEvent {
        #[strum(serialize = "job.assigned")]
        Assigned,
        #[strum(serialize = "job.updated")]
        Updated,
        #[strum(serialize = "job.cancelled")]
        Cancelled,
        #[strum(serialize = "job.withdrawn")]
        Withdrawn,
    }
}

platform::named_enum! {
    /// Where a delivery is: attempts owed (`pending`), or settled until a redelivery.
    #[strum(serialize_all = "snake_case")]
    pub enum DeliveryStatus {
        Pending,
        Delivered,
        Failed,
    }
}

/// One event for one webhook, and how sending it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Also the payload's `id` and the `Recommerce-Webhook-Id` header: the same on every
    /// attempt, so receivers de-duplicate on it.
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub partner_id: Uuid,
    pub event: WebhookEvent,
    /// The JSON body, exactly as signed and sent on every attempt.
    pub payload: String,
    pub status: DeliveryStatus,
    /// Attempts in the current round (a redelivery starts a new one).
    pub tries: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The body of delivery `id`: `{id, type, occurred_at, job: {…}}`. The address is included
/// because a logistics partner needs it.
pub fn payload(
    id: Uuid,
    event: WebhookEvent,
    occurred_at: DateTime<Utc>,
    job: &PortalJob,
) -> serde_json::Value {
    json!({
        "id": id,
        "type": event.as_str(),
        "occurred_at": occurred_at,
        "job": {
            "id": job.id,
            "order_id": job.order_id,
            "kind": job.kind.as_str(),
            "status": job.status.as_str(),
            "pincode": job.pincode,
            "address": job.address,
            "slot_date": job.slot_date,
            "slot_window": job.slot_window,
        }
    })
}

impl Delivery {
    /// `event` about `job` for `hook`, owed now.
    pub fn queued(
        id: Uuid,
        hook: &Webhook,
        event: WebhookEvent,
        job: &PortalJob,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            webhook_id: hook.id,
            partner_id: hook.partner_id,
            event,
            payload: payload(id, event, now, job).to_string(),
            status: DeliveryStatus::Pending,
            tries: 0,
            next_attempt_at: Some(now),
            last_status_code: None,
            last_error: None,
            created_at: now,
            delivered_at: None,
        }
    }

    /// Whether the delivery may be shown to `partner_id` (`None`: an admin, who sees all).
    pub fn is_visible_to(&self, partner_id: Option<Uuid>) -> bool {
        partner_id.is_none_or(|own| own == self.partner_id)
    }

    /// Whether an attempt is owed: the delivery is pending and has a time for it.
    pub fn is_owed(&self) -> bool {
        self.status == DeliveryStatus::Pending && self.next_attempt_at.is_some()
    }

    /// When the next attempt is due, if that is later than `now`.
    pub fn due_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_attempt_at.filter(|at| *at > now)
    }

    /// The delivery starting over, due now, whatever happened to it before (the attempt log
    /// keeps every attempt).
    pub fn redelivered(&self, now: DateTime<Utc>) -> Self {
        Self {
            status: DeliveryStatus::Pending,
            tries: 0,
            next_attempt_at: Some(now),
            ..self.clone()
        }
    }

    /// The delivery after `attempt`, settled as `after` says (`retry_at`: when a retry is
    /// due).
    pub fn after_attempt(
        &self,
        attempt: &NewAttempt,
        after: AfterAttempt,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut next = Self {
            tries: self.tries.saturating_add(1),
            last_status_code: attempt.status_code,
            last_error: attempt.error.clone(),
            ..self.clone()
        };
        match after {
            AfterAttempt::Delivered => {
                next.status = DeliveryStatus::Delivered;
                next.next_attempt_at = None;
                next.delivered_at = Some(now);
            }
            AfterAttempt::Failed => {
                next.status = DeliveryStatus::Failed;
                next.next_attempt_at = None;
            }
            AfterAttempt::Retry { .. } => next.next_attempt_at = retry_at,
        }
        next
    }
}

/// One logged attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    /// 1, 2, 3, … over every round of the delivery.
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// One attempt at a delivery, as it went (before it is logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    pub status_code: Option<i32>,
    /// Why the attempt did not deliver; `None`: delivered.
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl NewAttempt {
    /// An attempt that got `response`: the receiver's status (2xx delivers, anything else
    /// fails), or why there was none.
    pub fn of(response: Result<u16, String>, duration_ms: i64) -> Self {
        let (status_code, error) = match response {
            Ok(code) if (200..300).contains(&code) => (Some(i32::from(code)), None),
            Ok(code) => (
                Some(i32::from(code)),
                Some(format!("the receiver answered {code}")),
            ),
            Err(error) => (None, Some(error)),
        };
        Self {
            status_code,
            error,
            duration_ms,
        }
    }

    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

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
                // 198.18.0.0/15: benchmarking (RFC 2544), lab networks, never the internet.
                || (a == 198 && (b & 0xfe) == 18)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            // Addresses that carry an IPv4 address are as public as the one they carry:
            // a gateway or relay of ours would otherwise take the request to it.
            if let Some(embedded) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(embedded));
            }
            let segments = v6.segments();
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                // 64:ff9b:1::/48: NAT64 for local use (RFC 8215), translating into a
                // network of its operator's: refused whatever it carries.
                || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 1))
        }
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:0:0/96`), NAT64 well-known-prefix
/// (`64:ff9b::/96`, RFC 6052) or 6to4 (`2002::/16`, RFC 3056) address.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return Some(mapped);
    }
    let segments = v6.segments();
    let join = |high: u16, low: u16| (u32::from(high) << 16) | u32::from(low);
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(join(segments[6], segments[7]).into());
    }
    if segments[0] == 0x2002 {
        return Some(join(segments[1], segments[2]).into());
    }
    None
}

/// The longest webhook URL accepted, in characters once trimmed.
pub const MAX_URL_CHARS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, strum::EnumIter)]
pub enum UrlRefused {
    #[error("not a valid absolute URL")]
    Invalid,
    #[error("only http and https URLs can receive webhooks")]
    Scheme,
    #[error("only https URLs can receive webhooks")]
    HttpsRequired,
    #[error("URLs with credentials are not accepted")]
    Credentials,
    #[error("longer than 2048 characters")]
    TooLong,
    #[error("targets a private, loopback or link-local address")]
    Private,
}

impl UrlRefused {
    /// The refusal as a stable name, for clients that branch on it (the problem's `reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_url",
            Self::Scheme => "unsupported_scheme",
            Self::HttpsRequired => "https_required",
            Self::Credentials => "credentials_in_url",
            Self::TooLong => "too_long",
            Self::Private => "private_target",
        }
    }
}

/// Which webhook targets a deployment accepts beyond public `https` ones. Production
/// accepts neither kind: its egress reaches only the internet, on port 443. A developer's
/// run accepts both, so a receiver on the laptop works.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Loopback, private, link-local and other non-public addresses and names.
    pub private_targets: bool,
    /// `http://` URLs.
    pub plain_http: bool,
}

impl TargetPolicy {
    /// Public `https` targets only.
    pub const STRICT: Self = Self {
        private_targets: false,
        plain_http: false,
    };
    /// Anything a developer's local receiver needs.
    pub const LOCAL: Self = Self {
        private_targets: true,
        plain_http: true,
    };
}

/// Checks a webhook URL as written. Host names are checked again, resolved, at delivery.
pub fn check_url(raw: &str, policy: TargetPolicy) -> Result<url::Url, UrlRefused> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(UrlRefused::TooLong);
    }
    let url = url::Url::parse(raw).map_err(|_| UrlRefused::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.plain_http => {}
        "http" => return Err(UrlRefused::HttpsRequired),
        _ => return Err(UrlRefused::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    let host = url.host().ok_or(UrlRefused::Invalid)?;
    if !policy.private_targets {
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
    use strum::IntoEnumIterator;

    use crate::domain::{JobKind, JobStatus, NewJob};

    fn hook(partner_id: Uuid) -> Webhook {
        Webhook {
            id: Uuid::from_u128(100),
            partner_id,
            url: "https://hooks.example.com/recommerce".into(),
            secret: "whsec_test".into(),
            active: true,
            created_at: Utc::now(),
        }
    }

    fn job() -> PortalJob {
        let mut job = PortalJob::created(
            NewJob {
                id: Uuid::from_u128(10),
                order_id: Uuid::from_u128(20),
                kind: JobKind::Pickup,
                pincode: "560001".into(),
                address: "12 MG Road".into(),
                slot_date: "2026-12-01".into(),
                slot_window: "morning".into(),
                variant_id: "variant".into(),
            },
            Utc::now(),
        );
        job.status = JobStatus::Offered;
        job.partner_id = Some(Uuid::from_u128(1));
        job
    }

    #[test]
    fn a_queued_delivery_is_owed_now_and_carries_the_job() {
        let partner = Uuid::from_u128(1);
        let now = Utc::now();
        let id = Uuid::from_u128(5);
        let delivery = Delivery::queued(id, &hook(partner), WebhookEvent::Assigned, &job(), now);
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!((delivery.tries, delivery.next_attempt_at), (0, Some(now)));
        assert!(delivery.is_owed());
        assert_eq!(delivery.partner_id, partner);
        let body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
        assert_eq!(body["id"], id.to_string());
        assert_eq!(body["type"], "job.assigned");
        assert_eq!(body["job"]["kind"], "pickup");
        assert_eq!(body["job"]["status"], "offered");
        assert_eq!(body["job"]["address"], "12 MG Road");
        assert_eq!(body["job"]["order_id"], Uuid::from_u128(20).to_string());
    }

    #[test]
    fn an_attempt_settles_its_delivery_and_a_redelivery_starts_a_new_round() {
        let now = Utc::now();
        let queued = Delivery::queued(
            Uuid::from_u128(5),
            &hook(Uuid::from_u128(1)),
            WebhookEvent::Updated,
            &job(),
            now,
        );
        let refused = NewAttempt::of(Ok(500), 12);
        assert!(!refused.delivered());
        assert_eq!(refused.error.as_deref(), Some("the receiver answered 500"));
        let later = now + chrono::Duration::seconds(2);
        let retry =
            queued.after_attempt(&refused, AfterAttempt::Retry { tries: 1 }, Some(later), now);
        assert_eq!(retry.status, DeliveryStatus::Pending);
        assert_eq!((retry.tries, retry.next_attempt_at), (1, Some(later)));
        assert_eq!(retry.last_status_code, Some(500));
        assert_eq!(retry.due_after(now), Some(later));
        assert_eq!(retry.due_after(later), None);

        let failed = retry.after_attempt(
            &NewAttempt::of(Err("timed out".into()), 5),
            AfterAttempt::Failed,
            None,
            now,
        );
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!((failed.tries, failed.next_attempt_at), (2, None));
        assert_eq!(failed.last_status_code, None);
        assert!(!failed.is_owed());

        let again = failed.redelivered(later);
        assert_eq!(again.status, DeliveryStatus::Pending);
        assert_eq!((again.tries, again.next_attempt_at), (0, Some(later)));
        assert_eq!(again.last_error.as_deref(), Some("timed out"));

        let ok = NewAttempt::of(Ok(204), 3);
        assert!(ok.delivered());
        let delivered = again.after_attempt(&ok, AfterAttempt::Delivered, None, later);
        assert_eq!(delivered.status, DeliveryStatus::Delivered);
        assert_eq!(delivered.delivered_at, Some(later));
        assert_eq!(
            (delivered.tries, delivered.last_status_code),
            (1, Some(204))
        );
        assert_eq!(delivered.last_error, None);
    }

    #[test]
    fn partners_see_their_own_deliveries_and_active_webhooks() {
        let (partner, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut own = hook(partner);
        assert!(own.is_active_for(partner));
        assert!(!own.is_active_for(other));
        let delivery = Delivery::queued(
            Uuid::from_u128(5),
            &own,
            WebhookEvent::Cancelled,
            &job(),
            Utc::now(),
        );
        assert!(delivery.is_visible_to(Some(partner)));
        assert!(!delivery.is_visible_to(Some(other)));
        assert!(delivery.is_visible_to(None));
        own.active = false;
        assert!(!own.is_active_for(partner));
    }

    #[test]
    fn statuses_and_events_round_trip_through_their_names() {
        for status in DeliveryStatus::iter() {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(
            DeliveryStatus::iter()
                .map(DeliveryStatus::as_str)
                .collect::<Vec<_>>(),
            ["pending", "delivered", "failed"]
        );
        for event in WebhookEvent::iter() {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEvent::parse("assigned"), None);
    }

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

    fn public(address: &str) -> bool {
        is_public(address.parse().unwrap())
    }

    #[test]
    fn the_benchmarking_range_is_not_public() {
        for private in ["198.18.0.1", "198.19.255.254"] {
            assert!(!public(private), "{private}");
        }
        for neighbour in ["198.17.255.255", "198.20.0.1"] {
            assert!(public(neighbour), "{neighbour}");
        }
    }

    #[test]
    fn nat64_addresses_are_as_public_as_the_ipv4_address_they_carry() {
        for private in [
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::c612:1",
            // Local-use NAT64 translates into its operator's network: refused outright.
            "64:ff9b:1::808:808",
        ] {
            assert!(!public(private), "{private}");
        }
        assert!(public("64:ff9b::808:808"), "8.8.8.8 through NAT64");
    }

    #[test]
    fn six_to_four_addresses_are_as_public_as_the_ipv4_address_they_carry() {
        for private in [
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::",
        ] {
            assert!(!public(private), "{private}");
        }
        assert!(public("2002:808:808::1"), "8.8.8.8 through 6to4");
    }

    #[test]
    fn webhook_urls_aimed_at_private_addresses_through_ipv6_translations_are_refused() {
        for private in [
            "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "https://[2002:a00:1::1]/",
            "https://198.18.0.1/",
        ] {
            assert_eq!(
                check_url(private, TargetPolicy::STRICT),
                Err(UrlRefused::Private),
                "{private}"
            );
        }
    }

    #[test]
    fn only_public_https_targets_pass_the_strict_policy() {
        let strict = TargetPolicy::STRICT;
        assert!(check_url("https://hooks.example.com/recommerce", strict).is_ok());
        assert_eq!(
            check_url("file:///etc/passwd", strict),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("gopher://x.example", strict),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("https://u:p@x.example/", strict),
            Err(UrlRefused::Credentials)
        );
        for private in [
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://localhost:8080/",
        ] {
            assert_eq!(
                check_url(private, strict),
                Err(UrlRefused::Private),
                "{private}"
            );
        }
        assert_eq!(check_url("not a url", strict), Err(UrlRefused::Invalid));
    }

    #[test]
    fn a_url_is_at_most_max_url_chars_characters_not_bytes() {
        let strict = TargetPolicy::STRICT;
        let base = "https://hooks.example.com/";
        let longest = format!("{base}{}", "é".repeat(MAX_URL_CHARS - base.len()));
        assert!(check_url(&longest, strict).is_ok());
        assert_eq!(
            check_url(&format!("{longest}x"), strict),
            Err(UrlRefused::TooLong)
        );
    }

    #[test]
    fn plain_http_is_refused_unless_the_policy_allows_it() {
        assert_eq!(
            check_url("http://hooks.example.com/recommerce", TargetPolicy::STRICT),
            Err(UrlRefused::HttpsRequired)
        );
        let http_only = TargetPolicy {
            plain_http: true,
            ..TargetPolicy::STRICT
        };
        assert!(check_url("http://hooks.example.com/recommerce", http_only).is_ok());
        // Allowing http does not let it reach our network.
        assert_eq!(
            check_url("http://127.0.0.1:9/hooks", http_only),
            Err(UrlRefused::Private)
        );
        let private_only = TargetPolicy {
            private_targets: true,
            ..TargetPolicy::STRICT
        };
        assert_eq!(
            check_url("http://127.0.0.1:9/hooks", private_only),
            Err(UrlRefused::HttpsRequired)
        );
        assert!(check_url("https://127.0.0.1:9/hooks", private_only).is_ok());
    }

    #[test]
    fn the_local_policy_lets_a_receiver_on_this_machine_be_called_over_http() {
        assert!(check_url("http://127.0.0.1:9/hooks", TargetPolicy::LOCAL).is_ok());
        assert!(check_url("http://localhost:8080/hooks", TargetPolicy::LOCAL).is_ok());
        assert_eq!(
            check_url("ftp://127.0.0.1/", TargetPolicy::LOCAL),
            Err(UrlRefused::Scheme)
        );
    }
}
