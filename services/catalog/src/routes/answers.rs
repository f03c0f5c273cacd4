//! The problems the catalog's handlers answer besides the shell's, for their OpenAPI
//! declarations: each status once, with the codes a client can branch on.

use platform::error::Problem;

/// `GET /v1/devices/{id}`: retired models are not shown.
#[derive(utoipa::IntoResponses)]
pub enum NoActiveDevice {
    /// No active device model with this id (`device_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum ModelNotFound {
    /// No device model with this id (`device_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

#[derive(utoipa::IntoResponses)]
pub enum VariantNotFound {
    /// No variant with this id (`variant_not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Creating a model.
#[derive(utoipa::IntoResponses)]
pub enum CreateConflicts {
    /// A model with this brand and name exists (`device_already_exists`), or another write
    /// to the catalog was in progress (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Changing a model.
#[derive(utoipa::IntoResponses)]
pub enum ModelChangeConflicts {
    /// The model is retired (`device_retired`), another model has this brand and name
    /// (`device_already_exists`), or it was changed at the same time (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Adding, renaming or repricing a variant.
#[derive(utoipa::IntoResponses)]
pub enum VariantConflicts {
    /// Its model is retired (`device_retired`), the model has a variant of this name
    /// (`variant_already_exists`), or it was changed at the same time (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Retiring a model, deleting a variant, replacing a questionnaire.
#[derive(utoipa::IntoResponses)]
pub enum Concurrent {
    /// Changed by another request at the same time; read it again and retry
    /// (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// Deleting a variant.
#[derive(utoipa::IntoResponses)]
pub enum VariantDeleteConflicts {
    /// Its model is retired (`device_retired`) or was changed at the same time
    /// (`concurrent_update`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}
