//! Token verification against real JWKS over HTTP (RS256, as an OIDC provider would serve
//! it) and with the HS256 secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::{AuthError, Authenticator, Revocation, Revocations, Role, SERVICE_KEY_ID};
use platform::config::AuthSettings;
use secrecy::SecretString;
use serde_json::json;

const JWKS: &str = include_str!("fixtures/test-only-jwks.json");
const PRIVATE_KEY: &[u8] = include_bytes!("fixtures/test-only-rsa-private.pem");

struct Provider {
    url: String,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
    /// The key set it serves: a test removes a key by replacing it.
    keys: Arc<Mutex<String>>,
}

async fn start_provider() -> Provider {
    let up = Arc::new(AtomicBool::new(true));
    let fetches = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(Mutex::new(JWKS.to_owned()));
    let (state_up, state_fetches, state_keys) = (up.clone(), fetches.clone(), keys.clone());
    let server = HttpServer::new(move || {
        let up = state_up.clone();
        let fetches = state_fetches.clone();
        let keys = state_keys.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let up = up.clone();
                let fetches = fetches.clone();
                let keys = keys.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        let body = keys.lock().unwrap().clone();
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    } else {
                        HttpResponse::ServiceUnavailable().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    Provider {
        url: format!("http://127.0.0.1:{port}/jwks.json"),
        up,
        fetches,
        keys,
    }
}

fn settings(jwks_url: Option<String>, secret: Option<&str>) -> AuthSettings {
    AuthSettings {
        jwt_secret: secret.map(SecretString::from),
        jwks_url,
        issuer: Some("https://idp.example".into()),
        audience: Some("recommerce".into()),
        leeway_seconds: 0,
        jwks_cache_seconds: 300,
        ..AuthSettings::default()
    }
}

fn rs256_token(kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(PRIVATE_KEY).unwrap(),
    )
    .unwrap()
}

fn claims(role: &str, exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "user-42", "role": role, "iat": now, "exp": now + exp_offset,
        "iss": "https://idp.example", "aud": "recommerce"
    })
}

#[tokio::test]
async fn an_rs256_token_from_the_identity_provider_is_verified_through_its_jwks() {
    let provider = start_provider().await;
    let authenticator = Authenticator::new(&settings(Some(provider.url.clone()), None));
    let principal = authenticator
        .verify(&rs256_token("test-key-1", claims("admin", 300)))
        .await
        .unwrap();
    assert_eq!(principal.subject, "user-42");
    assert_eq!(principal.role, Role::Admin);

    // The key set is cached: a second token costs no second fetch.
    authenticator
        .verify(&rs256_token("test-key-1", claims("shopper", 300)))
        .await
        .unwrap();
    assert_eq!(provider.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_rs256_token_with_an_unknown_key_id_is_invalid() {
    let provider = start_provider().await;
    let authenticator = Authenticator::new(&settings(Some(provider.url), None));
    let error = authenticator
        .verify(&rs256_token("rotated-away", claims("admin", 300)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

#[tokio::test]
async fn an_rs256_token_for_another_audience_or_issuer_is_invalid() {
    let provider = start_provider().await;
    let authenticator = Authenticator::new(&settings(Some(provider.url), None));
    let mut foreign_audience = claims("admin", 300);
    foreign_audience["aud"] = json!("someone-else");
    let mut foreign_issuer = claims("admin", 300);
    foreign_issuer["iss"] = json!("https://evil.example");
    for claims in [foreign_audience, foreign_issuer] {
        let error = authenticator
            .verify(&rs256_token("test-key-1", claims))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
    }
}

#[tokio::test]
async fn an_expired_rs256_token_is_reported_as_expired() {
    let provider = start_provider().await;
    let authenticator = Authenticator::new(&settings(Some(provider.url), None));
    let error = authenticator
        .verify(&rs256_token("test-key-1", claims("admin", -60)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::ExpiredToken), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_unavailable_not_unauthorised() {
    let provider = start_provider().await;
    provider.up.store(false, Ordering::SeqCst);
    let authenticator = Authenticator::new(&settings(Some(provider.url), None));
    let error = authenticator
        .verify(&rs256_token("test-key-1", claims("admin", 300)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::KeysUnavailable), "{error:?}");
}

#[tokio::test]
async fn an_rs256_token_is_refused_when_no_jwks_is_configured() {
    let authenticator = Authenticator::new(&settings(
        None,
        Some("a-secret-of-at-least-32-bytes-123456"),
    ));
    let error = authenticator
        .verify(&rs256_token("test-key-1", claims("admin", 300)))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

#[tokio::test]
async fn an_issued_hs256_token_round_trips_with_its_partner_id() {
    let authenticator = Authenticator::new(&settings(
        None,
        Some("a-secret-of-at-least-32-bytes-123456"),
    ));
    let partner = uuid::Uuid::new_v4();
    let token = authenticator
        .issue("p-1", Role::Partner, Some(partner), Duration::from_secs(60))
        .unwrap();
    let principal = authenticator.verify(&token).await.unwrap();
    assert_eq!(principal.role, Role::Partner);
    assert_eq!(principal.partner_id, Some(partner));
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let authenticator = Authenticator::new(&settings(
        None,
        Some("a-secret-of-at-least-32-bytes-123456"),
    ));
    // alg=none: header {"alg":"none","typ":"JWT"}, no signature.
    let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    let payload = "eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIiwiZXhwIjo0MTAyNDQ0ODAwfQ";
    let error = authenticator
        .verify(&format!("{header}.{payload}."))
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

const USERS_SECRET: &str = "a-secret-of-at-least-32-bytes-123456";
const SERVICE_SECRET: &str = "another-secret-for-services-only-7890";

fn local_settings() -> AuthSettings {
    AuthSettings {
        jwt_secret: Some(SecretString::from(USERS_SECRET)),
        service_secret: Some(SecretString::from(SERVICE_SECRET)),
        leeway_seconds: 0,
        jwks_cache_seconds: 300,
        ..AuthSettings::default()
    }
}

fn hs256_token(secret: &str, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn local_claims(role: &str, issuer: &str, audience: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "someone", "role": role, "iat": now, "exp": now + 300,
        "iss": issuer, "aud": audience, "partner_id": uuid::Uuid::new_v4()
    })
}

#[tokio::test]
async fn a_service_token_is_signed_with_the_service_key_and_verified_as_a_service() {
    let authenticator = Authenticator::new(&local_settings());
    let token = authenticator
        .issue(
            "order-service",
            Role::Service,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(SERVICE_KEY_ID));
    let principal = authenticator.verify(&token).await.unwrap();
    assert_eq!(principal.role, Role::Service);

    // Users' key cannot stand in for it: a service token signed with it is refused.
    let forged = hs256_token(
        USERS_SECRET,
        Some(SERVICE_KEY_ID),
        &local_claims("service", "recommerce-service", "recommerce-service"),
    );
    let error = authenticator.verify(&forged).await.unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

#[tokio::test]
async fn whoever_holds_the_service_secret_cannot_sign_a_users_token() {
    let authenticator = Authenticator::new(&local_settings());
    for role in ["admin", "shopper", "partner"] {
        // Under the service key id, with the service audience: still not a user.
        let as_service = hs256_token(
            SERVICE_SECRET,
            Some(SERVICE_KEY_ID),
            &local_claims(role, "recommerce-service", "recommerce-service"),
        );
        // Posing as a user's token: the users' key does not verify it.
        let as_user = hs256_token(
            SERVICE_SECRET,
            None,
            &local_claims(role, "recommerce", "recommerce-api"),
        );
        for token in [as_service, as_user] {
            let error = authenticator.verify(&token).await.unwrap_err();
            assert!(
                matches!(error, AuthError::InvalidToken(_)),
                "{role}: {error:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_users_token_cannot_carry_the_service_role() {
    let authenticator = Authenticator::new(&local_settings());
    let token = hs256_token(
        USERS_SECRET,
        None,
        &local_claims("service", "recommerce", "recommerce-api"),
    );
    let error = authenticator.verify(&token).await.unwrap_err();
    assert!(matches!(error, AuthError::InvalidToken(_)), "{error:?}");
}

#[tokio::test]
async fn a_users_token_for_another_issuer_or_audience_or_naming_none_is_invalid() {
    let authenticator = Authenticator::new(&local_settings());
    let good = hs256_token(
        USERS_SECRET,
        None,
        &local_claims("admin", "recommerce", "recommerce-api"),
    );
    authenticator.verify(&good).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let unnamed = json!({"sub": "x", "role": "admin", "iat": now, "exp": now + 300});
    for claims in [
        local_claims("admin", "someone-else", "recommerce-api"),
        local_claims("admin", "recommerce", "another-api"),
        unnamed,
    ] {
        let token = hs256_token(USERS_SECRET, None, &claims);
        let error = authenticator.verify(&token).await.unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidToken(_)),
            "{claims}: {error:?}"
        );
    }
}

#[tokio::test]
async fn with_an_identity_provider_our_own_key_signs_only_partner_tokens() {
    let provider = start_provider().await;
    let authenticator = Authenticator::new(&AuthSettings {
        jwks_url: Some(provider.url.clone()),
        ..local_settings()
    });
    let partner = authenticator
        .issue(
            "dispatcher",
            Role::Partner,
            Some(uuid::Uuid::new_v4()),
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(
        authenticator.verify(&partner).await.unwrap().role,
        Role::Partner
    );
    for role in [Role::Admin, Role::Shopper] {
        let token = authenticator
            .issue("mallory", role, None, Duration::from_secs(60))
            .unwrap();
        let error = authenticator.verify(&token).await.unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidToken(_)),
            "{role}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_key_removed_at_the_identity_provider_stops_working_once_the_cached_set_expires() {
    let provider = start_provider().await;
    let mut settings = settings(Some(provider.url.clone()), None);
    settings.jwks_cache_seconds = 1;
    let authenticator = Authenticator::new(&settings);
    let token = rs256_token("test-key-1", claims("admin", 300));
    authenticator.verify(&token).await.unwrap();

    *provider.keys.lock().unwrap() = r#"{"keys":[]}"#.to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match authenticator.verify(&token).await {
            Err(AuthError::InvalidToken(_)) => break,
            Ok(_) => {}
            Err(other) => panic!("expected the token to become invalid, got {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a removed key was still trusted after 10 s (cache period 1 s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(provider.fetches.load(Ordering::SeqCst) >= 2);
}

fn redis_handle(prefix: &str) -> platform::redis::RedisHandle {
    platform::redis::RedisHandle::new(&platform::config::RedisSettings {
        url: Some(SecretString::from(platform::testing::shared_redis_url())),
        key_prefix: prefix.to_owned(),
    })
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn a_revocation_recorded_by_one_service_is_honoured_by_another_within_its_cache_period() {
    let prefix = format!("auth-test-{}", uuid::Uuid::new_v4().simple());
    let cache = Duration::from_millis(200);
    let portal = Authenticator::new(&local_settings())
        .with_revocations(Revocations::new(Some(redis_handle(&prefix)), cache));
    let fulfilment = Authenticator::new(&local_settings())
        .with_revocations(Revocations::new(Some(redis_handle(&prefix)), cache));
    let partner_id = Some(uuid::Uuid::new_v4());
    let old = portal
        .issue(
            "user-7",
            Role::Partner,
            partner_id,
            Duration::from_secs(600),
        )
        .unwrap();
    fulfilment.verify(&old).await.unwrap();

    portal
        .revocations()
        .unwrap()
        .revoke("user-7", Revocation::All)
        .await
        .unwrap();
    let refused = |authenticator: Authenticator, token: String| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match authenticator.verify(&token).await {
                Err(AuthError::RevokedToken) => return,
                other => assert!(
                    tokio::time::Instant::now() < deadline,
                    "still {other:?} 5 s after the revocation"
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    refused(fulfilment.clone(), old.clone()).await;
    // Another subject is untouched; service tokens are never looked up.
    let other = portal
        .issue(
            "user-8",
            Role::Partner,
            partner_id,
            Duration::from_secs(600),
        )
        .unwrap();
    fulfilment.verify(&other).await.unwrap();

    // Enabled again: tokens from before stay void, a new one works.
    let enabled_at = chrono::Utc::now().timestamp() + 1;
    portal
        .revocations()
        .unwrap()
        .revoke("user-7", Revocation::IssuedBefore(enabled_at))
        .await
        .unwrap();
    // A token issued from the next second on works (`iat` counts whole seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let new = portal
            .issue(
                "user-7",
                Role::Partner,
                partner_id,
                Duration::from_secs(600),
            )
            .unwrap();
        if fulfilment.verify(&new).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a new token never worked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        fulfilment.verify(&old).await,
        Err(AuthError::RevokedToken)
    ));
}
