//! Bearer-token authentication shared by every service. Three kinds of token, each trusted
//! for what it may say and no more:
//! - users' tokens from an OIDC provider: RS256, verified against its JWKS (fetched again
//!   on an unknown `kid` and after `auth.jwks_cache_seconds`, so a removed key stops working);
//! - users' tokens we sign ourselves with `auth.jwt_secret` (the dev run, tests, and the
//!   portal's partner users). Where a provider is configured they may only be partner
//!   tokens: shoppers and admins come from the provider, so holding the secret is not
//!   enough to sign an admin's token;
//! - service-to-service tokens, signed with `auth.service_secret` under the key id
//!   [`SERVICE_KEY_ID`] for the [`SERVICE_AUDIENCE`]: they carry the `service` role and
//!   nothing else, and no user token may carry it.
//!
//! Users' tokens must name the configured issuer and audience. A subject's tokens can be
//! revoked in every service at once ([`revocation`]). Handlers ask for a [`Principal`] and
//! check its role; they never see a token.

mod allow;
pub mod revocation;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::config::{AuthSettings, DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use crate::error::{ApiError, ErrorKind, ProblemCode};
pub use allow::Allow;
pub use revocation::{Revocation, Revocations};

/// The `kid` of service-to-service tokens: it picks the service key before any signature
/// is checked, so a user's key is never tried on them, nor theirs on a user's token.
pub const SERVICE_KEY_ID: &str = "recommerce-service";
/// The `aud` and `iss` of service-to-service tokens.
pub const SERVICE_AUDIENCE: &str = "recommerce-service";

/// A JWKS is fetched again for an unknown `kid` at most this often, so a flood of forged
/// tokens cannot turn into a flood of requests to the identity provider.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Shopper,
    Partner,
    Admin,
    /// Another recommerce service calling on its own behalf.
    Service,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Role::Shopper => "shopper",
            Role::Partner => "partner",
            Role::Admin => "admin",
            Role::Service => "service",
        };
        f.write_str(name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<Uuid>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Who is calling: the verified content of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    pub partner_id: Option<Uuid>,
}

impl Principal {
    /// Refuses (403) a caller whose role is not among `allowed`.
    pub fn require(&self, allowed: &[Role]) -> Result<&Self, ApiError> {
        if allowed.contains(&self.role) {
            Ok(self)
        } else {
            Err(AuthError::Forbidden { role: self.role }.into())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("send an `Authorization: Bearer <token>` header")]
    MissingToken,
    #[error("the bearer token is invalid: {0}")]
    InvalidToken(String),
    #[error("the bearer token has expired")]
    ExpiredToken,
    #[error("role `{role}` may not use this endpoint")]
    Forbidden { role: Role },
    #[error("the token's signing keys could not be fetched")]
    KeysUnavailable,
    #[error("this token has been revoked (its user was disabled or re-enabled since)")]
    RevokedToken,
}

impl ProblemCode for AuthError {
    fn kind(&self) -> ErrorKind {
        match self {
            AuthError::MissingToken => ErrorKind::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "Authentication required",
            ),
            AuthError::InvalidToken(_) => ErrorKind::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The bearer token is invalid",
            ),
            AuthError::ExpiredToken => ErrorKind::new(
                StatusCode::UNAUTHORIZED,
                "expired_token",
                "The bearer token has expired",
            ),
            AuthError::Forbidden { .. } => ErrorKind::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed for this role",
            ),
            // The provider being down is not the caller's fault, but the token is still
            // unverifiable: 401 would make clients throw the token away, so 503.
            AuthError::KeysUnavailable => ErrorKind::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_keys_unavailable",
                "Signing keys are temporarily unavailable",
            ),
            AuthError::RevokedToken => ErrorKind::new(
                StatusCode::UNAUTHORIZED,
                "token_revoked",
                "The bearer token has been revoked",
            ),
        }
    }
}

struct Jwks {
    url: String,
    client: reqwest::Client,
    cached: RwLock<Option<(JwkSet, Instant)>>,
    /// When a fetch was last tried, answered or not: fetches are at least
    /// [`JWKS_MIN_REFRESH`] apart, so an unreachable provider is not asked on every request.
    last_attempt: std::sync::Mutex<Option<Instant>>,
    /// After this a cached set is fetched again before it is used.
    trust_for: Duration,
}

struct Inner {
    users_hs256: Option<(EncodingKey, DecodingKey)>,
    service_hs256: Option<(EncodingKey, DecodingKey)>,
    jwks: Option<Jwks>,
    issuer: String,
    audience: String,
    leeway_seconds: u64,
}

/// Verifies (and, with a secret, issues) tokens. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
    revocations: Option<Arc<Revocations>>,
}

fn hs256_keys(secret: Option<&SecretString>) -> Option<(EncodingKey, DecodingKey)> {
    secret.map(|secret| {
        let bytes = secret.expose_secret().as_bytes();
        (
            EncodingKey::from_secret(bytes),
            DecodingKey::from_secret(bytes),
        )
    })
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        let jwks = settings.jwks_url.as_ref().map(|url| Jwks {
            url: url.clone(),
            client: reqwest::Client::builder()
                .timeout(JWKS_FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            cached: RwLock::new(None),
            last_attempt: std::sync::Mutex::new(None),
            trust_for: Duration::from_secs(settings.jwks_cache_seconds.max(1)),
        });
        Self {
            inner: Arc::new(Inner {
                users_hs256: hs256_keys(settings.jwt_secret.as_ref()),
                service_hs256: hs256_keys(settings.service_secret.as_ref()),
                jwks,
                issuer: settings
                    .issuer
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
                audience: settings
                    .audience
                    .clone()
                    .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned()),
                leeway_seconds: settings.leeway_seconds,
            }),
            revocations: None,
        }
    }

    /// Refuses tokens that `revocations` says were revoked.
    pub fn with_revocations(mut self, revocations: Arc<Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Where revocations are recorded and read, if this authenticator checks them.
    pub fn revocations(&self) -> Option<&Arc<Revocations>> {
        self.revocations.as_ref()
    }

    /// Issues an HS256 token, for the dev run, the `token` command, the portal's partner
    /// users and tests. A `service` token is signed with the service key, any other with
    /// users' key.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        partner_id: Option<Uuid>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let exp = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let (claims, header, encoding) = if role == Role::Service {
            let (encoding, _) = self.inner.service_hs256.as_ref().ok_or_else(|| {
                AuthError::InvalidToken("no service secret is configured to sign with".into())
            })?;
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(SERVICE_KEY_ID.to_owned());
            let claims = Claims {
                sub: subject.to_owned(),
                role,
                partner_id: None,
                iat: now,
                exp,
                iss: Some(SERVICE_AUDIENCE.to_owned()),
                aud: Some(SERVICE_AUDIENCE.to_owned()),
            };
            (claims, header, encoding)
        } else {
            let (encoding, _) = self.inner.users_hs256.as_ref().ok_or_else(|| {
                AuthError::InvalidToken("no HS256 secret is configured to sign with".into())
            })?;
            let claims = Claims {
                sub: subject.to_owned(),
                role,
                partner_id,
                iat: now,
                exp,
                iss: Some(self.inner.issuer.clone()),
                aud: Some(self.inner.audience.clone()),
            };
            (claims, Header::new(Algorithm::HS256), encoding)
        };
        jsonwebtoken::encode(&header, &claims, encoding)
            .map_err(|error| AuthError::InvalidToken(error.to_string()))
    }

    /// Verifies a raw token and returns who it names.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::InvalidToken(error.to_string()))?;
        let is_service_token = header.kid.as_deref() == Some(SERVICE_KEY_ID);
        let key = match header.alg {
            Algorithm::HS256 if is_service_token => self
                .inner
                .service_hs256
                .as_ref()
                .map(|(_, decoding)| decoding.clone())
                .ok_or_else(|| AuthError::InvalidToken("service tokens are not accepted".into()))?,
            Algorithm::HS256 => self
                .inner
                .users_hs256
                .as_ref()
                .map(|(_, decoding)| decoding.clone())
                .ok_or_else(|| AuthError::InvalidToken("HS256 tokens are not accepted".into()))?,
            Algorithm::RS256 if !is_service_token => self.rs256_key(header.kid.as_deref()).await?,
            other => {
                return Err(AuthError::InvalidToken(format!(
                    "algorithm {other:?} is not accepted"
                )));
            }
        };
        let (issuer, audience) = if is_service_token {
            (SERVICE_AUDIENCE, SERVICE_AUDIENCE)
        } else {
            (self.inner.issuer.as_str(), self.inner.audience.as_str())
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.inner.leeway_seconds;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(
                |error| match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                    _ => AuthError::InvalidToken(error.to_string()),
                },
            )?;
        let claims = data.claims;
        if is_service_token != (claims.role == Role::Service) {
            return Err(AuthError::InvalidToken(
                "only service tokens carry the service role, and they carry nothing else".into(),
            ));
        }
        // With an identity provider, it issues shoppers' and admins' tokens: our own users'
        // key signs only the portal's partner users.
        if header.alg == Algorithm::HS256
            && !is_service_token
            && self.inner.jwks.is_some()
            && claims.role != Role::Partner
        {
            return Err(AuthError::InvalidToken(format!(
                "role `{}` must come from the identity provider",
                claims.role
            )));
        }
        if claims.role == Role::Partner && claims.partner_id.is_none() {
            return Err(AuthError::InvalidToken(
                "a partner token must carry partner_id".into(),
            ));
        }
        if let Some(revocations) = &self.revocations
            && !is_service_token
            && revocations.voids(&claims.sub, claims.iat).await
        {
            return Err(AuthError::RevokedToken);
        }
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            partner_id: claims.partner_id,
        })
    }

    async fn rs256_key(&self, kid: Option<&str>) -> Result<DecodingKey, AuthError> {
        let jwks = self
            .inner
            .jwks
            .as_ref()
            .ok_or_else(|| AuthError::InvalidToken("RS256 tokens are not accepted".into()))?;
        let kid = kid.ok_or_else(|| AuthError::InvalidToken("the token has no `kid`".into()))?;
        // Past its trust, the set is fetched again before use: a key the provider removed
        // must stop working. If the provider does not answer, the set it gave last stands.
        let expired = jwks.age().await.is_some_and(|age| age >= jwks.trust_for);
        if expired && jwks.may_fetch() && jwks.refresh().await.is_err() {
            tracing::warn!(url = %jwks.url, "JWKS refresh failed; using the key set fetched before");
        }
        if let Some(key) = jwks.find(kid).await? {
            return Ok(key);
        }
        if jwks.age().await.is_none() || jwks.may_fetch() {
            jwks.refresh().await?;
            if let Some(key) = jwks.find(kid).await? {
                return Ok(key);
            }
        }
        Err(AuthError::InvalidToken(format!(
            "unknown signing key `{kid}`"
        )))
    }
}

impl Jwks {
    /// How long ago the cached set was fetched; `None` before the first fetch.
    async fn age(&self) -> Option<Duration> {
        let cached = self.cached.read().await;
        cached.as_ref().map(|(_, fetched)| fetched.elapsed())
    }

    async fn find(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        let cached = self.cached.read().await;
        let Some((set, _)) = cached.as_ref() else {
            return Ok(None);
        };
        match set.find(kid) {
            Some(jwk) => DecodingKey::from_jwk(jwk)
                .map(Some)
                .map_err(|error| AuthError::InvalidToken(error.to_string())),
            None => Ok(None),
        }
    }

    /// Whether a fetch may be tried now: none in the last [`JWKS_MIN_REFRESH`] (or trust
    /// period, if shorter).
    fn may_fetch(&self) -> bool {
        let last = self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.is_none_or(|at| at.elapsed() >= JWKS_MIN_REFRESH.min(self.trust_for))
    }

    async fn refresh(&self) -> Result<(), AuthError> {
        *self
            .last_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now());
        let fetched = async {
            self.client
                .get(&self.url)
                .send()
                .await?
                .error_for_status()?
                .json::<JwkSet>()
                .await
        }
        .await;
        match fetched {
            Ok(set) => {
                *self.cached.write().await = Some((set, Instant::now()));
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, url = %self.url, "fetching JWKS failed");
                Err(AuthError::KeysUnavailable)
            }
        }
    }
}

/// How a service proves to another that it is a service when it calls it over HTTP.
#[derive(Clone)]
pub enum ServiceCredentials {
    /// Signs its own short-lived `service` token with the service secret.
    Signed(Authenticator),
    /// A token issued by the identity provider (JWKS deployments).
    Static(SecretString),
}

/// Long enough for one call with retries, short enough that a leaked one soon expires.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(300);

impl ServiceCredentials {
    /// Signed tokens unless a token is configured (deployments whose provider issues them).
    pub fn from_settings(authenticator: &Authenticator, token: Option<&SecretString>) -> Self {
        match token {
            Some(token) => Self::Static(token.clone()),
            None => Self::Signed(authenticator.clone()),
        }
    }

    /// The bearer token to send now; `caller` becomes the signed token's subject.
    pub fn bearer(&self, caller: &str) -> Result<String, AuthError> {
        match self {
            Self::Signed(authenticator) => {
                authenticator.issue(caller, Role::Service, None, SERVICE_TOKEN_TTL)
            }
            Self::Static(token) => Ok(token.expose_secret().to_owned()),
        }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Admission verified it already when it checked the caller's rate.
        if let Some(principal) = req.extensions().get::<Principal>().cloned() {
            return Box::pin(async move { Ok(principal) });
        }
        let authenticator = req.app_data::<web::Data<Authenticator>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let authenticator = authenticator.ok_or_else(|| {
                ApiError::from(AuthError::InvalidToken(
                    "authentication is not configured".into(),
                ))
            })?;
            let token = token.ok_or(AuthError::MissingToken)?;
            Ok(authenticator.verify(&token).await?)
        })
    }
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}
