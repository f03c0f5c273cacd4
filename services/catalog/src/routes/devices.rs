use actix_web::{HttpRequest, HttpResponse, get, web};
use platform::ApiError;
use platform::error::Problem;
use platform::http::cacheable_json;
use uuid::Uuid;

use super::dto::{
    AdminDevice, DeviceDetail, DeviceSummary, Paged, QuestionnaireDto, VariantDevice, VariantDto,
};
use super::{BrowseQuery, CatalogState, PageQuery, to_json};
use crate::domain::ModelStatus;
use crate::error::CatalogError;

/// Browse active devices, with filters, text search and pagination.
#[utoipa::path(
    tag = "devices",
    params(BrowseQuery, PageQuery),
    responses(
        (status = 200, body = Paged<DeviceSummary>, description = "A page of devices, sorted by brand and name"),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/devices")]
pub async fn list_devices(
    req: HttpRequest,
    browse: web::Query<BrowseQuery>,
    paging: web::Query<PageQuery>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    let filter = browse.filter(Some(ModelStatus::Active))?;
    let page = super::page_of(&paging)?;
    let key = format!(
        "devices:c={}:b={}:p={}:n={}:q={}",
        filter.category.map(|c| c.as_str()).unwrap_or_default(),
        filter.brand.as_deref().unwrap_or_default().to_lowercase(),
        page.page,
        page.per_page,
        filter.text.as_deref().unwrap_or_default().to_lowercase(),
    );
    let body = state
        .cache
        .read_through(&key, || async {
            let found = state
                .store
                .list_models(&filter, page)
                .await
                .map_err(CatalogError::from)?;
            let list = Paged::new(
                found.items.iter().map(DeviceSummary::from).collect(),
                page,
                found.total,
            );
            to_json(&list)
        })
        .await?;
    Ok(cacheable_json(&req, body, state.http_max_age_seconds))
}

/// A device with its variants and its category's condition questionnaire.
#[utoipa::path(
    tag = "devices",
    params(("id" = Uuid, Path, description = "Device model id")),
    responses(
        (status = 200, body = DeviceDetail),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No active device with this id"),
    )
)]
#[get("/v1/devices/{id}")]
pub async fn get_device(
    req: HttpRequest,
    id: web::Path<Uuid>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = state
        .cache
        .read_through(&format!("device:{id}"), || async {
            let model = state
                .store
                .model(id)
                .await
                .map_err(CatalogError::from)?
                .filter(|model| model.status == ModelStatus::Active)
                .ok_or(CatalogError::ModelNotFound(id))?;
            let questionnaire = state
                .store
                .questionnaire(model.category)
                .await
                .map_err(CatalogError::from)?;
            let detail = DeviceDetail {
                id: model.id,
                brand: model.brand.clone(),
                name: model.name.clone(),
                category: model.category.into(),
                release_year: model.release_year,
                variants: model.variants.iter().map(VariantDto::from).collect(),
                questionnaire: QuestionnaireDto::from(&questionnaire),
            };
            to_json(&detail)
        })
        .await?;
    Ok(cacheable_json(&req, body, state.http_max_age_seconds))
}

/// The device a variant belongs to, retired models included, with the category's
/// questionnaire. Other services (quote) use it to price a variant they have not yet seen on
/// `catalog.events`.
#[utoipa::path(
    tag = "devices",
    params(("id" = Uuid, Path, description = "Variant id")),
    responses(
        (status = 200, body = VariantDevice),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No variant with this id"),
    )
)]
#[get("/v1/devices/variants/{id}")]
pub async fn get_variant_device(
    req: HttpRequest,
    id: web::Path<Uuid>,
    state: web::Data<CatalogState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let body = state
        .cache
        .read_through(&format!("variant:{id}"), || async {
            let model = state
                .store
                .model_of_variant(id)
                .await
                .map_err(CatalogError::from)?
                .ok_or(CatalogError::VariantNotFound(id))?;
            let questionnaire = state
                .store
                .questionnaire(model.category)
                .await
                .map_err(CatalogError::from)?;
            to_json(&VariantDevice {
                variant_id: id,
                model: AdminDevice::from(&model),
                questionnaire: QuestionnaireDto::from(&questionnaire),
            })
        })
        .await?;
    Ok(cacheable_json(&req, body, state.http_max_age_seconds))
}
