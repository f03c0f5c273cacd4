//! Token verification against real JWKS over HTTP (RS256, as an OIDC provider would serve
//! it) and with the HS256 secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::auth::{AuthError, Authenticator, Role};
use platform::config::AuthSettings;
use secrecy::SecretString;
use serde_json::json;

const JWKS: &str = include_str!("fixtures/test-only-jwks.json");
const PRIVATE_KEY: &[u8] = include_bytes!("fixtures/test-only-rsa-private.pem");

struct Provider {
    url: String,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

async fn start_provider() -> Provider {
    let up = Arc::new(AtomicBool::new(true));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (state_up, state_fetches) = (up.clone(), fetches.clone());
    let server = HttpServer::new(move || {
        let up = state_up.clone();
        let fetches = state_fetches.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let up = up.clone();
                let fetches = fetches.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if up.load(Ordering::SeqCst) {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(JWKS)
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
    }
}

fn settings(jwks_url: Option<String>, secret: Option<&str>) -> AuthSettings {
    AuthSettings {
        jwt_secret: secret.map(SecretString::from),
        jwks_url,
        issuer: Some("https://idp.example".into()),
        audience: Some("recommerce".into()),
        leeway_seconds: 0,
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
