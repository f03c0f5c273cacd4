use platform::auth::Role;
use system_tests::{OrderSide, Platform};

#[tokio::test]
async fn one_quote_backs_one_order_and_the_others_are_rejected_with_the_reason() {
    let platform = Platform::start().await;
    let OrderSide {
        catalog,
        quote,
        order,
    } = platform.order_side().await;
    let shopper = platform.token("shopper-a", Role::Shopper);
    let stranger = platform.token("shopper-b", Role::Shopper);
    let device = platform.device(&catalog).await;
    let issued = platform
        .quote_for(&quote, &shopper, device.variant_id, &device.best)
        .await;
    let quote_id = issued["id"].as_str().unwrap();

    let first = platform.accepted_order(&order, &shopper, quote_id).await;
    let second = platform.accepted_order(&order, &shopper, quote_id).await;
    let foreign = platform.accepted_order(&order, &stranger, quote_id).await;
    let unknown = platform
        .accepted_order(&order, &shopper, &uuid::Uuid::new_v4().to_string())
        .await;

    let settled =
        |json: &serde_json::Value| json["status"] == "confirmed" || json["status"] == "rejected";
    let mut outcomes = Vec::new();
    for id in [first, second] {
        platform::testing::eventually(system_tests::SETTLE, "the order settles", || async {
            settled(&platform.order_json(&order, id).await)
        })
        .await;
        outcomes.push(platform.order_json(&order, id).await);
    }
    let statuses: Vec<&str> = outcomes
        .iter()
        .map(|json| json["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses == ["confirmed", "rejected"] || statuses == ["rejected", "confirmed"],
        "{statuses:?}"
    );
    let confirmed = outcomes
        .iter()
        .find(|json| json["status"] == "confirmed")
        .unwrap();
    let rejected = outcomes
        .iter()
        .find(|json| json["status"] == "rejected")
        .unwrap();
    assert_eq!(rejected["reason"], "quote_already_used");
    assert_eq!(confirmed["quoted_price"], issued["price"]);

    let foreign = platform.wait_for_status(&order, foreign, "rejected").await;
    assert_eq!(
        foreign["reason"], "quote_not_found",
        "another shopper's quote"
    );
    let unknown = platform.wait_for_status(&order, unknown, "rejected").await;
    assert_eq!(unknown["reason"], "quote_not_found");
}
