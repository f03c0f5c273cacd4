//! The operations as HTTP, through the same public API (and edge) a storefront, a partner's
//! app and the back office use: nothing here knows a service's internals. Before the run,
//! `prepare` reads the catalog once (which also proves the target answers); each operation
//! then only draws from it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::mix::{Op, Rng};
use super::stats::Outcome;

/// Devices per list page, as a storefront asks.
const PER_PAGE: usize = 20;
/// How many devices' questionnaires quotes are drawn from.
const QUOTABLE_DEVICES: usize = 20;

#[derive(Debug, Deserialize)]
struct DevicePage {
    items: Vec<Identified>,
    total_pages: u64,
}

#[derive(Debug, Deserialize)]
struct Identified {
    id: Uuid,
}

#[derive(Debug, Deserialize)]
struct DeviceDetail {
    variants: Vec<Identified>,
    questionnaire: Questionnaire,
}

#[derive(Debug, Deserialize)]
struct Questionnaire {
    questions: Vec<Question>,
}

#[derive(Debug, Deserialize)]
struct Question {
    id: Uuid,
    options: Vec<Identified>,
}

/// A device that can be quoted: its variants and, per question, the option ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotable {
    variants: Vec<Uuid>,
    questions: Vec<(Uuid, Vec<Uuid>)>,
}

impl Quotable {
    fn of(device: DeviceDetail) -> Option<Self> {
        let quotable = Self {
            variants: device
                .variants
                .into_iter()
                .map(|variant| variant.id)
                .collect(),
            questions: device
                .questionnaire
                .questions
                .into_iter()
                .map(|question| {
                    let options = question.options.into_iter().map(|option| option.id);
                    (question.id, options.collect())
                })
                .collect(),
        };
        let answerable = quotable
            .questions
            .iter()
            .all(|(_, options)| !options.is_empty());
        (!quotable.variants.is_empty() && answerable).then_some(quotable)
    }
}

/// What the run knows of the catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub pages: u64,
    pub quotable: Vec<Quotable>,
}

/// A quote request as a shopper sends it: one variant, one answer (any option) per question.
pub fn quote_body(device: &Quotable, pincode: &str, rng: &mut Rng) -> Value {
    let variant = device.variants[rng.below(device.variants.len())];
    let answers: Vec<Value> = device
        .questions
        .iter()
        .map(|(question, options)| {
            json!({"question_id": question, "option_id": options[rng.below(options.len())]})
        })
        .collect();
    json!({"variant_id": variant, "answers": answers, "pincode": pincode})
}

/// An order for `quote_id`, picked up at `pincode` on `date` and paid by UPI.
pub fn order_body(quote_id: Uuid, pincode: &str, date: NaiveDate) -> Value {
    json!({
        "quote_id": quote_id,
        "pickup": {
            "address": "1 Load Test Lane",
            "pincode": pincode,
            "slot": {"date": date.to_string(), "window": "morning"}
        },
        "payout": {"method": "upi", "details": {"vpa": "load@okbank"}}
    })
}

/// Tokens of one role, handed out in turn.
#[derive(Debug, Default)]
pub struct TokenRing {
    tokens: Vec<String>,
    turn: AtomicUsize,
}

impl TokenRing {
    pub fn new(tokens: Vec<String>) -> Self {
        Self {
            tokens,
            turn: AtomicUsize::new(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn next_token(&self) -> Option<&str> {
        if self.tokens.is_empty() {
            return None;
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        self.tokens
            .get(turn % self.tokens.len())
            .map(String::as_str)
    }
}

/// The tokens the operations act with.
#[derive(Debug, Default)]
pub struct Tokens {
    pub shoppers: TokenRing,
    pub partners: TokenRing,
    pub admins: TokenRing,
}

/// How an operation ended, in the run's clock.
#[derive(Debug)]
pub struct Done {
    pub outcome: Outcome,
    /// The problem+json `code` of a failed answer (`overloaded`, `rate_limited`, ...).
    pub problem: Option<String>,
    pub answered: Instant,
    pub requests: u32,
    /// The order POST of an `order` operation.
    pub placed: Option<Placement>,
}

/// The order POST, timed from its own send.
#[derive(Debug)]
pub struct Placement {
    pub outcome: Outcome,
    pub problem: Option<String>,
    pub latency: Duration,
    pub answered: Instant,
}

#[derive(Debug, Deserialize)]
struct Problem {
    code: String,
}

/// A problem+json `code` worth counting: short and made of the characters codes use, so a
/// stranger's error page cannot flood the report.
pub fn problem_code(body: &[u8]) -> Option<String> {
    let problem: Problem = serde_json::from_slice(body).ok()?;
    let plausible = !problem.code.is_empty()
        && problem.code.len() <= 64
        && problem
            .code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plausible.then_some(problem.code)
}

struct Reply {
    outcome: Outcome,
    body: Vec<u8>,
}

impl Reply {
    /// The body of a success as `T`; a failure keeps its outcome, a success that does not
    /// parse is `Malformed`.
    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, Outcome> {
        if !self.outcome.is_success() {
            return Err(self.outcome);
        }
        serde_json::from_slice(&self.body).map_err(|_| Outcome::Malformed)
    }

    /// The problem code of a failed answer.
    fn problem(&self) -> Option<String> {
        match self.outcome {
            Outcome::Answered(status) if status >= 400 => problem_code(&self.body),
            _ => None,
        }
    }
}

/// One deployment under load.
pub struct Target {
    base: String,
    client: reqwest::Client,
    tokens: Tokens,
    pincode: String,
    catalog: Catalog,
}

impl Target {
    pub fn new(
        base: &str,
        client: reqwest::Client,
        tokens: Tokens,
        pincode: String,
        catalog: Catalog,
    ) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
            tokens,
            pincode,
            catalog,
        }
    }

    pub async fn perform(&self, op: Op, rng: &mut Rng) -> Done {
        match op {
            Op::Browse => self.browse(rng).await,
            Op::Quote => {
                let token = self.tokens.shoppers.next_token();
                let reply = self.quote(token, rng).await;
                done(&reply, reply.outcome, 1)
            }
            Op::Order => self.order(rng).await,
            Op::Partner => {
                let token = self.tokens.partners.next_token();
                let path = format!("/v1/portal/jobs?per_page={PER_PAGE}");
                let reply = self.send(self.get(&path, token)).await;
                done(&reply, reply.outcome, 1)
            }
            Op::Admin => {
                let token = self.tokens.admins.next_token();
                let path = format!("/v1/admin/orders?per_page={PER_PAGE}");
                let reply = self.send(self.get(&path, token)).await;
                done(&reply, reply.outcome, 1)
            }
        }
    }

    /// A page of devices (a shopper's token if there is one: anonymous callers behind one
    /// edge share one rate-limit bucket), then one device from that page.
    async fn browse(&self, rng: &mut Rng) -> Done {
        let token = self.tokens.shoppers.next_token();
        let page = rng.below(usize::try_from(self.catalog.pages).unwrap_or(1)) + 1;
        let list = self
            .send(self.get(
                &format!("/v1/devices?page={page}&per_page={PER_PAGE}"),
                token,
            ))
            .await;
        let items = match list.parse::<DevicePage>() {
            Ok(page) => page.items,
            Err(outcome) => return done(&list, outcome, 1),
        };
        let Some(device) = items.get(rng.below(items.len())) else {
            return done(&list, list.outcome, 1);
        };
        let detail = self
            .send(self.get(&format!("/v1/devices/{}", device.id), token))
            .await;
        done(&detail, detail.outcome, 2)
    }

    async fn quote(&self, token: Option<&str>, rng: &mut Rng) -> Reply {
        let body = self
            .catalog
            .quotable
            .get(rng.below(self.catalog.quotable.len()))
            .map(|device| quote_body(device, &self.pincode, rng))
            .unwrap_or_default();
        self.send(self.post("/v1/quotes", token).json(&body)).await
    }

    /// A quote of its own (a quote serves one order only), then the order for it. The
    /// order POST is also timed alone, from its own send.
    async fn order(&self, rng: &mut Rng) -> Done {
        let token = self.tokens.shoppers.next_token();
        let quote = self.quote(token, rng).await;
        let quote_id = match quote.parse::<Identified>() {
            Ok(quote) => quote.id,
            Err(outcome) => return done(&quote, outcome, 1),
        };
        let today = chrono::Utc::now().date_naive();
        let tomorrow = today.succ_opt().unwrap_or(today);
        let sent = Instant::now();
        let placed = self
            .send(
                self.post("/v1/orders", token)
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&order_body(quote_id, &self.pincode, tomorrow)),
            )
            .await;
        let answered = Instant::now();
        let problem = placed.problem();
        Done {
            outcome: placed.outcome,
            problem: problem.clone(),
            answered,
            requests: 2,
            placed: Some(Placement {
                outcome: placed.outcome,
                problem,
                latency: answered - sent,
                answered,
            }),
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        authorised(self.client.get(format!("{}{path}", self.base)), token)
    }

    fn post(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        authorised(self.client.post(format!("{}{path}", self.base)), token)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let failed = |error: reqwest::Error| Reply {
            outcome: if error.is_timeout() {
                Outcome::Timeout
            } else {
                Outcome::Transport
            },
            body: Vec::new(),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(error),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(body) => Reply {
                outcome: Outcome::Answered(status),
                body: body.to_vec(),
            },
            Err(error) => failed(error),
        }
    }
}

/// An operation that ended with `outcome` at `reply`, its last request.
fn done(reply: &Reply, outcome: Outcome, requests: u32) -> Done {
    Done {
        outcome,
        problem: reply.problem(),
        answered: Instant::now(),
        requests,
        placed: None,
    }
}

fn authorised(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Reads the catalog the operations draw from, and so checks that `base` is a recommerce
/// deployment that answers: any failure here stops the run before it starts.
pub async fn prepare(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    need_quotes: bool,
) -> anyhow::Result<Catalog> {
    let base = base.trim_end_matches('/');
    let get = |path: String| {
        let url = format!("{base}{path}");
        let request = authorised(client.get(&url), token);
        async move {
            let response = request.send().await.with_context(|| {
                format!("{url} does not answer: is the platform running there?")
            })?;
            let status = response.status();
            anyhow::ensure!(
                status.is_success(),
                "{url} answered {status}: is {base} a recommerce edge, and the token valid?"
            );
            response
                .bytes()
                .await
                .with_context(|| format!("{url}: the answer was cut off"))
        }
    };
    let list: DevicePage =
        serde_json::from_slice(&get(format!("/v1/devices?per_page={PER_PAGE}")).await?)
            .with_context(|| format!("{base}/v1/devices did not answer a device list"))?;
    anyhow::ensure!(
        list.total_pages > 0 && !list.items.is_empty(),
        "the catalog at {base} has no devices to browse or quote: seed it (`recommerce seed`)"
    );
    let mut quotable = Vec::new();
    if need_quotes {
        for device in list.items.iter().take(QUOTABLE_DEVICES) {
            let detail: DeviceDetail =
                serde_json::from_slice(&get(format!("/v1/devices/{}", device.id)).await?)
                    .with_context(|| format!("{base}/v1/devices/{} is not a device", device.id))?;
            quotable.extend(Quotable::of(detail));
        }
        anyhow::ensure!(
            !quotable.is_empty(),
            "no device at {base} has variants and a questionnaire to quote"
        );
    }
    Ok(Catalog {
        pages: list.total_pages,
        quotable,
    })
}

/// Checks that the target accepts `token` for `path` (a cheap read of the role it is for),
/// so a wrong or expired token stops the run before it starts instead of filling the report
/// with 401s. The token itself is never printed.
pub async fn check_token(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
) -> anyhow::Result<()> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{url} refused the token: {status} (wrong role, expired, or signed with another secret)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Quotable {
        Quotable {
            variants: vec![Uuid::from_u128(1), Uuid::from_u128(2)],
            questions: vec![
                (
                    Uuid::from_u128(10),
                    vec![Uuid::from_u128(11), Uuid::from_u128(12)],
                ),
                (Uuid::from_u128(20), vec![Uuid::from_u128(21)]),
            ],
        }
    }

    #[test]
    fn a_quote_answers_every_question_once_with_one_of_its_options() {
        let device = device();
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            let body = quote_body(&device, "560001", &mut rng);
            assert_eq!(body["pincode"], "560001");
            let variant: Uuid = serde_json::from_value(body["variant_id"].clone()).unwrap();
            assert!(device.variants.contains(&variant));
            let answers = body["answers"].as_array().unwrap();
            assert_eq!(answers.len(), device.questions.len());
            for ((question, options), answer) in device.questions.iter().zip(answers) {
                assert_eq!(answer["question_id"], json!(question));
                let option: Uuid = serde_json::from_value(answer["option_id"].clone()).unwrap();
                assert!(options.contains(&option));
            }
        }
    }

    #[test]
    fn an_order_names_its_quote_and_a_pickup_at_the_quotes_pincode() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let body = order_body(Uuid::from_u128(5), "400001", date);
        assert_eq!(body["quote_id"], json!(Uuid::from_u128(5)));
        assert_eq!(body["pickup"]["pincode"], "400001");
        assert_eq!(body["pickup"]["slot"]["date"], "2026-12-01");
        assert_eq!(body["payout"]["method"], "upi");
    }

    #[test]
    fn a_device_without_variants_or_with_an_unanswerable_question_is_not_quoted() {
        let detail = |variants: usize, options: usize| DeviceDetail {
            variants: (0..variants)
                .map(|n| Identified {
                    id: Uuid::from_u128(n as u128),
                })
                .collect(),
            questionnaire: Questionnaire {
                questions: vec![Question {
                    id: Uuid::from_u128(9),
                    options: (0..options)
                        .map(|n| Identified {
                            id: Uuid::from_u128(100 + n as u128),
                        })
                        .collect(),
                }],
            },
        };
        assert!(Quotable::of(detail(1, 2)).is_some());
        assert!(Quotable::of(detail(0, 2)).is_none());
        assert!(Quotable::of(detail(1, 0)).is_none());
    }

    #[test]
    fn problem_codes_are_read_from_problem_json_and_nothing_else() {
        let body = br#"{"type":"x","title":"t","status":503,"code":"overloaded"}"#;
        assert_eq!(problem_code(body).as_deref(), Some("overloaded"));
        assert_eq!(problem_code(b"<html>Bad gateway</html>"), None);
        assert_eq!(problem_code(br#"{"code":"DROP TABLE; --"}"#), None);
        assert_eq!(problem_code(br#"{"code":""}"#), None);
    }

    #[test]
    fn tokens_are_handed_out_in_turn() {
        let ring = TokenRing::new(vec!["a".into(), "b".into(), "c".into()]);
        let turns: Vec<_> = (0..5).map(|_| ring.next_token().unwrap()).collect();
        assert_eq!(turns, ["a", "b", "c", "a", "b"]);
        assert_eq!(TokenRing::default().next_token(), None);
    }
}
