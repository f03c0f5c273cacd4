//! Authorization before validation. A handler's extractors (path, query, body) run side by
//! side, so a role checked inside the handler comes after them: a shopper posting `{}` to
//! an admin route was told which field was missing, i.e. the route's schema, instead of 403.
//! [`Allow`] wraps a route and checks the caller's role before any extractor looks at the
//! request; the handler's own `require` stays as the second lock.
//!
//! ```ignore
//! #[post("/v1/admin/catalog/models", wrap = "Allow::only(ADMIN)")]
//! ```

use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpMessage, web};
use futures_util::future::{LocalBoxFuture, Ready, ready};

use super::{AuthError, Authenticator, Principal, Role, bearer_token};
use crate::error::ApiError;

/// Lets through only callers whose verified token carries one of `roles`; others get
/// 401 (no or a bad token) or 403 (another role) before the request is read further.
#[derive(Debug, Clone, Copy)]
pub struct Allow {
    roles: &'static [Role],
}

impl Allow {
    pub const fn only(roles: &'static [Role]) -> Self {
        Self { roles }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Allow
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = AllowMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AllowMiddleware {
            service: Rc::new(service),
            roles: self.roles,
        }))
    }
}

pub struct AllowMiddleware<S> {
    service: Rc<S>,
    roles: &'static [Role],
}

impl<S, B> Service<ServiceRequest> for AllowMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let roles = self.roles;
        Box::pin(async move {
            let allowed = match principal_of(&request).await {
                Ok(principal) => principal.require(roles).map(|_| principal.clone()),
                Err(error) => Err(error),
            };
            match allowed {
                Ok(principal) => {
                    // The handler's `Principal` is taken from here, verified once.
                    request.extensions_mut().insert(principal);
                    // Only now is what the route takes any of the caller's business.
                    match crate::request_shape::held_to_operation(request).await {
                        Ok(request) => {
                            let response = service.call(request).await?;
                            Ok(response.map_into_left_body())
                        }
                        Err((request, error)) => {
                            Ok(request.error_response(error).map_into_right_body())
                        }
                    }
                }
                Err(error) => Ok(request.error_response(error).map_into_right_body()),
            }
        })
    }
}

async fn principal_of(request: &ServiceRequest) -> Result<Principal, ApiError> {
    if let Some(principal) = request.extensions().get::<Principal>().cloned() {
        return Ok(principal);
    }
    let authenticator = request
        .app_data::<web::Data<Authenticator>>()
        .cloned()
        .ok_or_else(|| AuthError::InvalidToken("authentication is not configured".into()))?;
    let token = bearer_token(request.request()).ok_or(AuthError::MissingToken)?;
    Ok(authenticator.verify(&token).await?)
}
