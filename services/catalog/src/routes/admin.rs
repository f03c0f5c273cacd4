//! Back-office catalog management. Every handler takes the [`Principal`] first and checks
//! the admin role before touching the body or the store; every committed write invalidates
//! the browse cache.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use platform::ApiError;
use platform::auth::{Allow, Principal, Role};
use platform::error::{AuthProblems, BodyProblems};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::answers::{
    Concurrent, CreateConflicts, ModelChangeConflicts, ModelNotFound, VariantConflicts,
    VariantDeleteConflicts, VariantNotFound,
};
use super::dto::{
    AdminDevice, CategoryDto, ModelPatchRequest, NewModelRequest, NewVariantRequest, Paged,
    QuestionnaireDto, QuestionnaireRequest, StatusDto, VariantDto, VariantPatchRequest,
};
use super::{BrowseQuery, CatalogState, PageQuery, current_year};
use crate::domain::{
    Category, ModelDraft, ModelPatch, QuestionDraft, Questionnaire, VariantDraft, VariantPatch,
    Violations,
};
use crate::error::CatalogError;

const ADMIN: &[Role] = &[Role::Admin];

fn admin_json<T: serde::Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn variant_draft(
    field: &str,
    request: &NewVariantRequest,
) -> Result<VariantDraft, crate::domain::Violations> {
    VariantDraft::parse(
        field,
        &request.name,
        request.base_price.amount_minor,
        &request.base_price.currency,
    )
}

/// The category named `name`: checked with the rest of the body, so that an unknown name is
/// one more violation of the 422 rather than a refusal of its own.
fn category_named(name: &str) -> Result<Category, Violations> {
    let mut violations = Violations::default();
    let category = Category::parse(name);
    violations.check(
        category.is_some(),
        "category",
        "must be phone, laptop, tablet or watch",
    );
    category.ok_or(violations)
}

/// Both results, or every violation of either.
fn both<A, B>(a: Result<A, Violations>, b: Result<B, Violations>) -> Result<(A, B), Violations> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => {
            let mut violations = Violations::default();
            violations.0.extend(a.err().into_iter().flat_map(|v| v.0));
            violations.0.extend(b.err().into_iter().flat_map(|v| v.0));
            Err(violations)
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Only models in this status; all when absent.
    pub status: Option<StatusDto>,
}

/// Every model, retired ones included.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(StatusQuery, BrowseQuery, PageQuery),
    responses(
        (status = 200, body = Paged<AdminDevice>),
        AuthProblems,
    )
)]
#[get("/v1/admin/catalog/models", wrap = "Allow::only(ADMIN)")]
pub async fn list_models(
    principal: Principal,
    status: web::Query<StatusQuery>,
    browse: web::Query<BrowseQuery>,
    paging: web::Query<PageQuery>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let page = super::page_of(&paging)?;
    let filter = browse.filter(status.status.map(Into::into))?;
    let found = state
        .store
        .list_models(&filter, page)
        .await
        .map_err(CatalogError::from)?;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &Paged::new(
            found.items.iter().map(AdminDevice::from).collect(),
            page,
            found.total,
        ),
    ))
}

/// Create a model, optionally with its variants.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    request_body = NewModelRequest,
    responses(
        (status = 201, body = AdminDevice,
            headers(("Location" = String, description = "The model's admin URL")),
            links(("GetModel" = (operation_id = "get_model", parameters(("id" = "$response.body#/id")), description = "The model just created")))),
        AuthProblems,
        BodyProblems,
        CreateConflicts,
    )
)]
#[post("/v1/admin/catalog/models", wrap = "Allow::only(ADMIN)")]
pub async fn create_model(
    principal: Principal,
    body: web::Json<NewModelRequest>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let variants = body
        .variants
        .iter()
        .enumerate()
        .map(|(index, variant)| variant_draft(&format!("variants[{index}]."), variant))
        .collect();
    let category = category_named(&body.category);
    let draft = ModelDraft::parse(
        &body.brand,
        &body.name,
        // Only a placeholder when the category is unknown: the answer is then a 422.
        *category.as_ref().unwrap_or(&Category::Phone),
        body.release_year,
        variants,
        current_year(),
    );
    let (_, draft) = both(category, draft).map_err(CatalogError::from)?;
    let model = state
        .store
        .create_model(Uuid::now_v7(), draft)
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    tracing::info!(model_id = %model.id, admin = %principal.subject, "device model created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/catalog/models/{}", model.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminDevice::from(&model)))
}

/// One model, retired or not.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AdminDevice),
        AuthProblems,
        ModelNotFound,
    )
)]
#[get("/v1/admin/catalog/models/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn get_model(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let id = id.into_inner();
    let model = state
        .store
        .model(id)
        .await
        .map_err(CatalogError::from)?
        .ok_or(CatalogError::ModelNotFound(id))?;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &AdminDevice::from(&model),
    ))
}

/// Change a model's brand, name, category or release year.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    request_body = ModelPatchRequest,
    responses(
        (status = 200, body = AdminDevice),
        AuthProblems,
        BodyProblems,
        ModelNotFound,
        ModelChangeConflicts,
    )
)]
#[patch("/v1/admin/catalog/models/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn update_model(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ModelPatchRequest>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let category = body.category.as_deref().map(category_named).transpose();
    let patch = ModelPatch::parse(
        body.brand.as_deref(),
        body.name.as_deref(),
        category.as_ref().ok().copied().flatten(),
        body.release_year,
        current_year(),
    );
    let (_, patch) = both(category, patch).map_err(CatalogError::from)?;
    let model = state
        .store
        .update_model(id.into_inner(), patch)
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &AdminDevice::from(&model),
    ))
}

/// Retire a model: hidden from browse, kept for existing quotes and orders. Idempotent.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Retired"),
        AuthProblems,
        ModelNotFound,
        Concurrent,
    )
)]
#[delete("/v1/admin/catalog/models/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn retire_model(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    state
        .store
        .retire_model(id.into_inner())
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(HttpResponse::NoContent().finish())
}

/// Add a variant to an active model.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Model id")),
    request_body = NewVariantRequest,
    responses(
        (status = 201, body = VariantDto, headers(("Location" = String, description = "The variant's admin URL"))),
        AuthProblems,
        BodyProblems,
        ModelNotFound,
        VariantConflicts,
    )
)]
#[post("/v1/admin/catalog/models/{id}/variants", wrap = "Allow::only(ADMIN)")]
pub async fn add_variant(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<NewVariantRequest>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let draft = variant_draft("", &body).map_err(CatalogError::from)?;
    let variant = state
        .store
        .add_variant(id.into_inner(), Uuid::now_v7(), draft)
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/admin/catalog/variants/{}", variant.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(VariantDto::from(&variant)))
}

/// Rename a variant or change its base price.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Variant id")),
    request_body = VariantPatchRequest,
    responses(
        (status = 200, body = VariantDto),
        AuthProblems,
        BodyProblems,
        VariantNotFound,
        VariantConflicts,
    )
)]
#[patch("/v1/admin/catalog/variants/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn update_variant(
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<VariantPatchRequest>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let patch = VariantPatch::parse(
        body.name.as_deref(),
        body.base_price
            .as_ref()
            .map(|price| (price.amount_minor, price.currency.as_str())),
    )
    .map_err(CatalogError::from)?;
    let variant = state
        .store
        .update_variant(id.into_inner(), patch)
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &VariantDto::from(&variant),
    ))
}

/// Remove a variant.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Variant id")),
    responses(
        (status = 204, description = "Deleted"),
        AuthProblems,
        VariantNotFound,
        VariantDeleteConflicts,
    )
)]
#[delete("/v1/admin/catalog/variants/{id}", wrap = "Allow::only(ADMIN)")]
pub async fn delete_variant(
    principal: Principal,
    id: web::Path<Uuid>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    state
        .store
        .delete_variant(id.into_inner())
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(HttpResponse::NoContent().finish())
}

/// The condition questionnaire of a category.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("category" = CategoryDto, Path)),
    responses(
        (status = 200, body = QuestionnaireDto),
        AuthProblems,
    )
)]
#[get(
    "/v1/admin/catalog/questionnaires/{category}",
    wrap = "Allow::only(ADMIN)"
)]
pub async fn get_questionnaire(
    principal: Principal,
    category: web::Path<CategoryDto>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let questionnaire = state
        .store
        .questionnaire(category.into_inner().into())
        .await
        .map_err(CatalogError::from)?;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &QuestionnaireDto::from(&questionnaire),
    ))
}

/// Replace a category's questionnaire as a whole.
#[utoipa::path(
    tag = "admin catalog",
    security(("bearer" = [])),
    params(("category" = CategoryDto, Path)),
    request_body = QuestionnaireRequest,
    responses(
        (status = 200, body = QuestionnaireDto),
        AuthProblems,
        BodyProblems,
        Concurrent,
    )
)]
#[put(
    "/v1/admin/catalog/questionnaires/{category}",
    wrap = "Allow::only(ADMIN)"
)]
pub async fn replace_questionnaire(
    principal: Principal,
    category: web::Path<CategoryDto>,
    body: web::Json<QuestionnaireRequest>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    principal.require(ADMIN)?;
    let drafts = body
        .into_inner()
        .questions
        .into_iter()
        .map(|question| QuestionDraft {
            key: question.key,
            text: question.text,
            options: question
                .options
                .into_iter()
                .map(|option| (option.key, option.label, option.deduction.into()))
                .collect(),
        })
        .collect();
    let questionnaire =
        Questionnaire::parse(category.into_inner().into(), drafts).map_err(CatalogError::from)?;
    state
        .store
        .replace_questionnaire(questionnaire.clone())
        .await
        .map_err(CatalogError::from)?;
    state.cache.invalidate().await;
    Ok(admin_json(
        actix_web::http::StatusCode::OK,
        &QuestionnaireDto::from(&questionnaire),
    ))
}
