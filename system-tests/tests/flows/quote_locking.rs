use platform::auth::Role;
use system_tests::{OrderOptions, OrderSide, Platform};

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

/// Orders waiting together are processed as one group (one read, one transaction): each
/// still ends as its own quote decides, and a quote two of them share backs only one.
#[tokio::test]
async fn orders_processed_as_one_group_each_end_as_their_own_quote_decides() {
    let platform = Platform::start().await;
    let OrderSide {
        catalog,
        quote,
        order,
    } = platform.order_side().await;
    // The instance that takes the orders does not process them, so they wait together for
    // the one that starts afterwards, whose first claim takes them all (fewer than a group).
    order.stop().await;
    let options = || OrderOptions {
        quote_url: quote.address.clone(),
    };
    let taking = platform
        .order_not_processing(&order.database_url, options())
        .await;
    let shopper = platform.token("shopper-a", Role::Shopper);
    let device = platform.device(&catalog).await;
    let mut own_quotes = Vec::new();
    for _ in 0..6 {
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        let id = issued["id"].as_str().unwrap().to_owned();
        let order_id = platform.accepted_order(&taking, &shopper, &id).await;
        own_quotes.push((order_id, issued));
    }
    let shared = platform
        .quote_for(&quote, &shopper, device.variant_id, &device.best)
        .await;
    let shared_id = shared["id"].as_str().unwrap();
    let sharing = [
        platform.accepted_order(&taking, &shopper, shared_id).await,
        platform.accepted_order(&taking, &shopper, shared_id).await,
    ];
    let unknown = platform
        .accepted_order(&taking, &shopper, &uuid::Uuid::new_v4().to_string())
        .await;
    for (id, _) in &own_quotes {
        assert_eq!(
            platform.order_json(&taking, *id).await["status"],
            "received"
        );
    }

    let processing = platform.order(&order.database_url, options()).await;
    for (id, issued) in &own_quotes {
        let confirmed = platform
            .wait_for_status(&processing, *id, "confirmed")
            .await;
        assert_eq!(confirmed["quoted_price"], issued["price"]);
    }
    let unknown = platform
        .wait_for_status(&processing, unknown, "rejected")
        .await;
    assert_eq!(unknown["reason"], "quote_not_found");
    let mut shared_outcomes = Vec::new();
    for id in sharing {
        platform::testing::eventually(system_tests::SETTLE, "the order settles", || async {
            let status = platform.order_json(&processing, id).await["status"].clone();
            status == "confirmed" || status == "rejected"
        })
        .await;
        shared_outcomes.push(platform.order_json(&processing, id).await);
    }
    let mut statuses: Vec<&str> = shared_outcomes
        .iter()
        .map(|json| json["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["confirmed", "rejected"], "{shared_outcomes:?}");
    let rejected = shared_outcomes
        .iter()
        .find(|json| json["status"] == "rejected")
        .unwrap();
    assert_eq!(rejected["reason"], "quote_already_used");
    taking.stop().await;
}
