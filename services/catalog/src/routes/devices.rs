use actix_web::{HttpRequest, HttpResponse, get, web};
use platform::ApiError;
use platform::http::cacheable_json;
use uuid::Uuid;

use super::answers::{NoActiveDevice, VariantNotFound};
use super::dto::{
    AdminDevice, DeviceDetail, DeviceSummary, Paged, QuestionnaireDto, VariantDevice, VariantDto,
};
use super::{BrowseQuery, CatalogState, PageQuery, to_json};
use crate::domain::ModelStatus;
use crate::error::CatalogError;

// Browse answers are cacheable (`platform::http::cacheable_json`).
const NOT_MODIFIED: &str = "The body is the one whose ETag `If-None-Match` named; none is sent";

/// The conditional request header of the cacheable browse routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Read by `cacheable_json` from the request, never extracted.
struct IfNoneMatch {
    /// ETags of bodies the client holds (or `*`): a match answers 304 without a body.
    #[param(rename = "If-None-Match")]
    if_none_match: Option<String>,
}

/// Browse active devices, with filters, text search and pagination.
#[utoipa::path(
    tag = "devices",
    params(BrowseQuery, PageQuery, IfNoneMatch),
    responses(
        (status = 200, body = Paged<DeviceSummary>, description = "A page of devices, sorted by brand and name",
            headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"), ("Cache-Control" = String, description = "public, max-age of catalog.http_max_age_seconds"))),
        (status = 304, description = NOT_MODIFIED, headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"))),
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
    params(("id" = Uuid, Path, description = "Device model id"), IfNoneMatch),
    responses(
        (status = 200, body = DeviceDetail,
            headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"), ("Cache-Control" = String, description = "public, max-age of catalog.http_max_age_seconds"))),
        (status = 304, description = NOT_MODIFIED, headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"))),
        NoActiveDevice,
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
    params(("id" = Uuid, Path, description = "Variant id"), IfNoneMatch),
    responses(
        (status = 200, body = VariantDevice,
            headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"), ("Cache-Control" = String, description = "public, max-age of catalog.http_max_age_seconds"))),
        (status = 304, description = NOT_MODIFIED, headers(("ETag" = String, description = "Strong validator of the body: send it back in If-None-Match"))),
        VariantNotFound,
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
