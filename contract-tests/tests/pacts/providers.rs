//! Each provider's real app, on a random port with a fresh database, answers every
//! interaction of the committed pacts. Provider states are set up in-process through the
//! app's own API (and, for an expiry, its database), and name what they made (`quoteId`,
//! `variantId`, …) for the pacts' provider-state expressions.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use pact_models::provider_states::ProviderState;
use pact_verifier::callback_executors::{NullRequestFilterExecutor, ProviderStateExecutor};
use pact_verifier::verification_result::VerificationExecutionResult;
use pact_verifier::{
    FilterInfo, PactSource, ProviderInfo, ProviderTransport, VerificationOptions,
    verify_provider_async,
};
use platform::auth::Role;
use platform::testing::SpawnedService;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::ExprTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ACCEPTED_AT, SHOPPER, committed_pact};

/// Runs the verifier over the committed `consumer`-`provider` pact against `service`,
/// sending `token` (if any) as the bearer, and fails with the verifier's report.
async fn verify<S: ProviderStateExecutor + Send + Sync + 'static>(
    consumer: &str,
    provider: &str,
    service: &SpawnedService,
    token: Option<String>,
    states: S,
) {
    let result = run_verifier(consumer, provider, service.port, token, states).await;
    assert!(
        result.result && result.errors.is_empty(),
        "{provider} does not honour {consumer}'s pact:\n{}\n{:#?}",
        result.output.join("\n"),
        result.errors
    );
}

/// The verifier's report of the committed `consumer`-`provider` pact against whatever
/// listens on `port`.
async fn run_verifier<S: ProviderStateExecutor + Send + Sync + 'static>(
    consumer: &str,
    provider: &str,
    port: u16,
    token: Option<String>,
    states: S,
) -> VerificationExecutionResult {
    #[allow(deprecated)]
    let provider_info = ProviderInfo {
        name: provider.to_owned(),
        host: "127.0.0.1".to_owned(),
        port: Some(port),
        transports: vec![ProviderTransport {
            transport: "http".to_owned(),
            port: Some(port),
            path: None,
            scheme: Some("http".to_owned()),
        }],
        ..ProviderInfo::default()
    };
    let options = VerificationOptions::<NullRequestFilterExecutor> {
        custom_headers: token
            .map(|token| HashMap::from([("Authorization".to_owned(), format!("Bearer {token}"))]))
            .unwrap_or_default(),
        coloured_output: false,
        request_timeout: 10_000,
        ..VerificationOptions::default()
    };
    let pact = committed_pact(consumer, provider);
    verify_provider_async(
        provider_info,
        vec![PactSource::File(pact.to_string_lossy().into_owned())],
        FilterInfo::None,
        vec![],
        &options,
        None,
        &Arc::new(states),
        None,
    )
    .await
    .expect("the verifier runs")
}

/// A running catalog on a fresh database.
pub(crate) async fn spawn_catalog_on(database_url: &str) -> SpawnedService {
    platform::telemetry::init_for_tests();
    let layers = platform::testing::test_layers(&catalog::startup::Catalog, database_url)
        .set("http.workers", 1)
        .unwrap();
    platform::testing::spawn_service(&catalog::startup::Catalog, &layers).await
}

/// A running catalog on a fresh database.
async fn spawn_catalog() -> SpawnedService {
    spawn_catalog_on(&platform::testing::fresh_database("catalog").await).await
}

/// Calls `service` as `token` and answers the body; panics on anything but a success.
pub(crate) async fn call(
    service: &SpawnedService,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = service
        .client
        .request(method, format!("{}{path}", service.address))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// A model of `category` with one variant in `catalog`, and the category's questionnaire of
/// one question (screen: flawless for `none_off`, or cracked for `cracked` off):
/// `(variant id, question id, option ids)`.
async fn stock(
    catalog: &SpawnedService,
    category: &str,
    none_off: Value,
    cracked: Value,
) -> (String, String, Vec<String>) {
    let admin = catalog.token_for("catalog-admin", Role::Admin);
    let option =
        |key: &str, deduction: &Value| json!({"key": key, "label": key, "deduction": deduction});
    let questionnaire = call(
        catalog,
        &admin,
        Method::PUT,
        &format!("/v1/admin/catalog/questionnaires/{category}"),
        Some(
            json!({"questions": [{"key": "screen", "text": "Screen condition?", "options": [
                option("flawless", &none_off),
                option("cracked", &cracked),
            ]}]}),
        ),
    )
    .await;
    let model = call(
        catalog,
        &admin,
        Method::POST,
        "/v1/admin/catalog/models",
        Some(json!({
            "brand": "Acme",
            "name": format!("Model {}", Uuid::new_v4().simple()),
            "category": category,
            "release_year": 2024,
            "variants": [{"name": "128 GB", "base_price": {"amount_minor": 5_000_000, "currency": "INR"}}],
        })),
    )
    .await;
    let question = &questionnaire["questions"][0];
    let options = question["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| option["id"].as_str().unwrap().to_owned())
        .collect();
    (
        model["variants"][0]["id"].as_str().unwrap().to_owned(),
        question["id"].as_str().unwrap().to_owned(),
        options,
    )
}

/// A phone whose cracked screen takes 10 % off.
async fn stock_a_phone(catalog: &SpawnedService) -> (String, String, Vec<String>) {
    let percent = |basis_points: u32| json!({"kind": "percentage", "basis_points": basis_points});
    stock(catalog, "phone", percent(0), percent(1000)).await
}

/// Quote's provider states: quotes issued through quote's own API for a phone it reads
/// from a real catalog.
#[derive(Debug)]
pub(crate) struct QuoteStates {
    quote_url: String,
    client: reqwest::Client,
    shopper_token: String,
    service_token: String,
    pub(crate) db: sea_orm::DatabaseConnection,
    variant_id: String,
    question_id: String,
    option_ids: Vec<String>,
}

impl QuoteStates {
    async fn send(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.quote_url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        Ok(response.error_for_status()?.json().await?)
    }

    /// A quote for the flawless phone, issued to [`SHOPPER`]: its id.
    pub(crate) async fn issue(&self) -> anyhow::Result<String> {
        let answers = json!([{"question_id": self.question_id, "option_id": self.option_ids[0]}]);
        let quote = self
            .send(
                &self.shopper_token,
                "/v1/quotes",
                json!({"variant_id": self.variant_id, "answers": answers, "pincode": "560001"}),
            )
            .await?;
        quote["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("a quote without an id: {quote}"))
    }

    async fn lock_to_some_order(&self, quote_id: &str) -> anyhow::Result<()> {
        self.send(
            &self.service_token,
            &format!("/v1/quotes/{quote_id}/lock"),
            json!({"order_id": Uuid::new_v4(), "shopper_id": SHOPPER}),
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl ProviderStateExecutor for QuoteStates {
    async fn call(
        self: Arc<Self>,
        _interaction_id: Option<String>,
        provider_state: &ProviderState,
        setup: bool,
        _client: Option<&reqwest::Client>,
    ) -> anyhow::Result<HashMap<String, Value>> {
        if !setup || provider_state.name.is_empty() {
            return Ok(HashMap::new());
        }
        let quote_id = self.issue().await?;
        match provider_state.name.as_str() {
            "a quote issued to shopper-1, valid when the order was accepted" => {}
            "a quote issued to shopper-1 and locked to another order"
            | "a locked quote of a device whose questionnaire has one question" => {
                self.lock_to_some_order(&quote_id).await?;
            }
            "a quote issued to shopper-1 that expired before the order was accepted" => {
                let accepted_at: chrono::DateTime<chrono::Utc> = ACCEPTED_AT.parse()?;
                let expired = sea_orm::sea_query::Query::update()
                    .table(sea_orm::sea_query::Alias::new("quotes"))
                    .value(
                        sea_orm::sea_query::Alias::new("expires_at"),
                        accepted_at - chrono::Duration::days(1),
                    )
                    .and_where(
                        sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("id"))
                            .eq(Uuid::parse_str(&quote_id)?),
                    )
                    .to_owned();
                self.db.execute(&expired).await?;
            }
            other => anyhow::bail!("quote has no provider state `{other}`"),
        }
        Ok(HashMap::from([
            ("quoteId".to_owned(), json!(quote_id)),
            ("questionId".to_owned(), json!(self.question_id)),
            // The worse condition, so the re-quote really changes the price.
            ("optionId".to_owned(), json!(self.option_ids[1])),
        ]))
    }

    fn teardown(&self) -> bool {
        false
    }
}

/// Quote with a real catalog behind it, and the states its consumers' pacts name.
pub(crate) async fn spawn_quote() -> (SpawnedService, SpawnedService, QuoteStates) {
    let catalog = spawn_catalog().await;
    let (variant_id, question_id, option_ids) = stock_a_phone(&catalog).await;
    let database_url = platform::testing::fresh_database("quote").await;
    let layers = platform::testing::test_layers(&quote_service::startup::Quote, &database_url)
        .set("http.workers", 1)
        .unwrap()
        .set("quote.catalog_url", catalog.address.clone())
        .unwrap()
        .set("redis.url", platform::testing::shared_redis_url())
        .unwrap();
    let quote = platform::testing::spawn_service(&quote_service::startup::Quote, &layers).await;
    let states = QuoteStates {
        quote_url: quote.address.clone(),
        client: reqwest::Client::new(),
        shopper_token: quote.token_for(SHOPPER, Role::Shopper),
        service_token: quote.token_for("contract-tests", Role::Service),
        db: sea_orm::Database::connect(&database_url).await.unwrap(),
        variant_id,
        question_id,
        option_ids,
    };
    (quote, catalog, states)
}

#[tokio::test]
async fn quote_honours_the_pact_of_orders_locks() {
    let (quote, _catalog, states) = spawn_quote().await;
    let token = quote.token_for("order-service", Role::Service);
    verify("order", "quote", &quote, Some(token), states).await;
}

#[tokio::test]
async fn quote_honours_the_pact_of_fulfilments_requotes() {
    let (quote, _catalog, states) = spawn_quote().await;
    let token = quote.token_for("fulfilment-service", Role::Service);
    verify("fulfilment", "quote", &quote, Some(token), states).await;
}

/// The catalog's states: the devices it sells.
#[derive(Debug)]
struct CatalogStates {
    phone_variant_id: String,
    laptop_variant_id: String,
}

#[async_trait]
impl ProviderStateExecutor for CatalogStates {
    async fn call(
        self: Arc<Self>,
        _interaction_id: Option<String>,
        provider_state: &ProviderState,
        setup: bool,
        _client: Option<&reqwest::Client>,
    ) -> anyhow::Result<HashMap<String, Value>> {
        match provider_state.name.as_str() {
            "" => Ok(HashMap::new()),
            _ if !setup => Ok(HashMap::new()),
            "an active phone with one variant, its questionnaire taking off percentages" => Ok(
                HashMap::from([("variantId".to_owned(), json!(self.phone_variant_id))]),
            ),
            "an active laptop with one variant, its questionnaire taking off fixed amounts" => Ok(
                HashMap::from([("variantId".to_owned(), json!(self.laptop_variant_id))]),
            ),
            other => anyhow::bail!("catalog has no provider state `{other}`"),
        }
    }

    fn teardown(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn catalog_honours_the_pact_of_quotes_variant_reads() {
    let catalog = spawn_catalog().await;
    let (phone_variant_id, _, _) = stock_a_phone(&catalog).await;
    let amount = |amount_minor: i64| json!({"kind": "absolute", "amount_minor": amount_minor});
    let (laptop_variant_id, _, _) = stock(&catalog, "laptop", amount(0), amount(500_000)).await;
    let states = CatalogStates {
        phone_variant_id,
        laptop_variant_id,
    };
    verify("quote", "catalog", &catalog, None, states).await;
}

/// Quote as it would be had someone renamed `variant_id` in the lock answer: the real app
/// behind a proxy that renames the field on the way out.
async fn quote_with_a_renamed_lock_field(quote_url: String) -> (actix_web::dev::ServerHandle, u16) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    async fn forward(
        request: HttpRequest,
        body: web::Bytes,
        quote_url: web::Data<String>,
    ) -> HttpResponse {
        let mut call = reqwest::Client::new().request(
            Method::from_bytes(request.method().as_str().as_bytes()).unwrap(),
            format!("{}{}", quote_url.get_ref(), request.uri()),
        );
        for name in ["authorization", "content-type"] {
            if let Some(value) = request.headers().get(name) {
                call = call.header(name, value.as_bytes());
            }
        }
        let answer = call.body(body).send().await.unwrap();
        let status = answer.status().as_u16();
        let content_type = answer
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let mut body: Value = answer.json().await.unwrap_or(Value::Null);
        if let Some(answer) = body.as_object_mut()
            && let Some(variant) = answer.remove("variant_id")
        {
            answer.insert("variantId".to_owned(), variant);
        }
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type(content_type)
            .json(body)
    }

    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(quote_url.clone()))
            .default_service(web::to(forward))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (handle, port)
}

#[tokio::test]
async fn a_quote_that_renamed_a_field_of_its_lock_answer_breaks_orders_pact() {
    let (quote, _catalog, states) = spawn_quote().await;
    let token = quote.token_for("order-service", Role::Service);
    let (proxy, port) = quote_with_a_renamed_lock_field(quote.address.clone()).await;
    let result = run_verifier("order", "quote", port, Some(token), states).await;
    proxy.stop(false).await;
    assert!(!result.result, "the verifier passed a renamed field");
    let report = format!("{:?}", result.errors);
    assert!(report.contains("variant_id"), "{report}");
    assert_eq!(
        result.errors.len(),
        1,
        "only the successful lock reads variant_id: {report}"
    );
}
