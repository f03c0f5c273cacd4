//! Bearer-token authentication shared by every service. HS256 tokens (our own secret) serve
//! the dev run, service-to-service calls and tests; RS256 tokens are verified against a JWKS
//! URL so an existing OIDC provider can issue tokens for SSO. Handlers ask for a [`Principal`]
//! and check its role; they never see a token.

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

use crate::config::AuthSettings;
use crate::error::{ApiError, ErrorKind, ProblemCode};

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
        }
    }
}

struct Jwks {
    url: String,
    client: reqwest::Client,
    cached: RwLock<Option<(JwkSet, Instant)>>,
}

struct Inner {
    hs256: Option<(EncodingKey, DecodingKey)>,
    jwks: Option<Jwks>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_seconds: u64,
}

/// Verifies (and, with a secret, issues) tokens. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        let hs256 = settings.jwt_secret.as_ref().map(|secret| {
            let bytes = secret.expose_secret().as_bytes();
            (
                EncodingKey::from_secret(bytes),
                DecodingKey::from_secret(bytes),
            )
        });
        let jwks = settings.jwks_url.as_ref().map(|url| Jwks {
            url: url.clone(),
            client: reqwest::Client::builder()
                .timeout(JWKS_FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            cached: RwLock::new(None),
        });
        Self {
            inner: Arc::new(Inner {
                hs256,
                jwks,
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                leeway_seconds: settings.leeway_seconds,
            }),
        }
    }

    /// Issues an HS256 token, for the dev run, the `token` command and tests.
    pub fn issue(
        &self,
        subject: &str,
        role: Role,
        partner_id: Option<Uuid>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let (encoding, _) = self.inner.hs256.as_ref().ok_or_else(|| {
            AuthError::InvalidToken("no HS256 secret is configured to sign with".into())
        })?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            partner_id,
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: self.inner.issuer.clone(),
            aud: self.inner.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding)
            .map_err(|error| AuthError::InvalidToken(error.to_string()))
    }

    /// Verifies a raw token and returns who it names.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::InvalidToken(error.to_string()))?;
        let key = match header.alg {
            Algorithm::HS256 => self
                .inner
                .hs256
                .as_ref()
                .map(|(_, decoding)| decoding.clone())
                .ok_or_else(|| AuthError::InvalidToken("HS256 tokens are not accepted".into()))?,
            Algorithm::RS256 => self.rs256_key(header.kid.as_deref()).await?,
            other => {
                return Err(AuthError::InvalidToken(format!(
                    "algorithm {other:?} is not accepted"
                )));
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.inner.leeway_seconds;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.inner.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.inner.issuer {
            validation.set_issuer(&[issuer]);
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(
                |error| match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                    _ => AuthError::InvalidToken(error.to_string()),
                },
            )?;
        let claims = data.claims;
        if claims.role == Role::Partner && claims.partner_id.is_none() {
            return Err(AuthError::InvalidToken(
                "a partner token must carry partner_id".into(),
            ));
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
        if let Some(key) = jwks.find(kid).await? {
            return Ok(key);
        }
        let stale = {
            let cached = jwks.cached.read().await;
            cached
                .as_ref()
                .is_none_or(|(_, fetched)| fetched.elapsed() >= JWKS_MIN_REFRESH)
        };
        if stale {
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

    async fn refresh(&self) -> Result<(), AuthError> {
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
    /// Signs its own short-lived `service` token with the shared HS256 secret.
    Signed(Authenticator),
    /// A token issued by the identity provider (JWKS deployments).
    Static(SecretString),
}

/// Long enough for one call with retries, short enough that a leaked one soon expires.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(300);

impl ServiceCredentials {
    /// Signed tokens when this service holds the HS256 secret, else the configured token.
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
