//! For the suites: drives list routes with query values no list may take. A page number
//! that overflows an offset, a date the database cannot hold or a word where a number
//! belongs must come back as a 400 problem with a stable `code`; a 5xx or a dropped
//! connection means one request could take a worker down. Each service's suite lists its
//! list routes, and [`paged_routes`] holds that list against its OpenAPI document, so a
//! list route added later is not left out.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::PROBLEM_CONTENT_TYPE;

/// Paging no list route accepts: zero, negative, past `MAX_PAGE`, past `i64` and `u64`,
/// past `MAX_PER_PAGE`, and not a number.
pub const EXTREME_PAGING: &[&str] = &[
    "page=0",
    "page=-1",
    "page=922337203685477581",
    "page=18446744073709551616",
    "page=10001",
    "page=abc",
    "page=1.5",
    "per_page=0",
    "per_page=-1",
    "per_page=100000",
    "per_page=18446744073709551616",
    "per_page=abc",
];

/// Values no whole-number query parameter `name` takes: negative, past `u32`, `i64` and
/// `u64`, and not a number.
pub fn extreme_numbers(name: &str) -> Vec<String> {
    [
        "-1",
        "4294967296",
        "9223372036854775808",
        "18446744073709551616",
        "abc",
        "1e9",
    ]
    .iter()
    .map(|value| format!("{name}={value}"))
    .collect()
}

/// Values no timestamp query parameter `name` takes: not RFC 3339, impossible dates, and
/// years before and after what PostgreSQL can store (4713 BC … 294276 AD).
pub fn extreme_dates(name: &str) -> Vec<String> {
    [
        "abc",
        "-1",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01",
        "-262143-01-01T00:00:00Z",
        "-4714-01-01T00:00:00Z",
        "+262142-12-31T23:59:59Z",
    ]
    .iter()
    .map(|value| format!("{name}={}", urlencoding(value)))
    .collect()
}

/// `+` in a query string is a space.
fn urlencoding(value: &str) -> String {
    value.replace('+', "%2B")
}

/// The routes the OpenAPI document `openapi` lists as paged: every `GET` with a `page`
/// query parameter.
pub fn paged_routes(openapi: &Value) -> BTreeSet<String> {
    let Some(paths) = openapi["paths"].as_object() else {
        return BTreeSet::new();
    };
    paths
        .iter()
        .filter(|(_, item)| {
            item["get"]["parameters"]
                .as_array()
                .is_some_and(|parameters| {
                    parameters
                        .iter()
                        .any(|parameter| parameter["in"] == "query" && parameter["name"] == "page")
                })
        })
        .map(|(path, _)| path.clone())
        .collect()
}

/// Sends `GET {address}{route}?{query}` as `token` for each of `queries` and asserts that
/// every answer is a 400 `application/problem+json` with `code`; reports every miss at once.
pub async fn assert_each_query_refused(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    route: &str,
    queries: &[String],
    code: &str,
) {
    let mut misses = Vec::new();
    for query in queries {
        let url = format!("{address}{route}?{query}");
        let response = match client.get(&url).bearer_auth(token).send().await {
            Ok(response) => response,
            Err(error) => {
                misses.push(format!("GET {route}?{query}: no answer ({error})"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 400 || !content_type.starts_with(PROBLEM_CONTENT_TYPE) || body["code"] != code
        {
            misses.push(format!(
                "GET {route}?{query}: {status} {content_type} {body}, expected 400 `{code}`"
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}
