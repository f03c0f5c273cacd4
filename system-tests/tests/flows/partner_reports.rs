//! A partner's report is the partner's to make whenever it happens: the portal takes it
//! while fulfilment is down, and fulfilment applies it, in order, once it is back.

use platform::auth::Role;
use serde_json::json;
use system_tests::Marketplace;

#[tokio::test]
async fn partner_reports_made_while_fulfilment_is_down_are_accepted_and_applied_when_it_returns() {
    let mut market = Marketplace::start().await;
    let logistics = market
        .partner("Night Riders", "logistics", &["560001"])
        .await;
    let repair = market.partner("Bench Works", "repair", &["560001"]).await;
    let platform = &market.platform;
    let shopper = platform.token("shopper-outage", Role::Shopper);
    let device = platform.device(&market.catalog).await;
    let quote = platform
        .quote_for(&market.quote, &shopper, device.variant_id, &device.best)
        .await;
    let id = platform
        .accepted_order(&market.order, &shopper, quote["id"].as_str().unwrap())
        .await;
    platform
        .wait_for_status(&market.order, id, "confirmed")
        .await;
    let pickup = market
        .wait_for_job(&logistics, id, "pickup", "offered")
        .await;

    market.fulfilment.stop().await;
    for action in ["accept", "picked-up", "delivered"] {
        market.acts(&logistics, &pickup, action, json!({})).await;
    }
    // The portal shows the partner its own reports at once.
    market
        .wait_for_job(&logistics, id, "pickup", "completed")
        .await;
    let order = market.platform.order_json(&market.order, id).await;
    assert_eq!(order["status"], "confirmed", "nothing applied them yet");

    let database_url = market.fulfilment.database_url.clone();
    market.fulfilment = market
        .platform
        .fulfilment(0, &database_url, &market.quote)
        .await;
    let platform = &market.platform;
    platform
        .wait_for_status(&market.order, id, "picked_up")
        .await;
    // The hub delivery was applied too: the device waits for a repair partner.
    market
        .wait_for_job(&repair, id, "inspection", "offered")
        .await;
    let timeline = platform.timeline(&market.order, id).await;
    let events: Vec<&str> = timeline
        .iter()
        .map(|(_, _, event)| event.as_str())
        .collect();
    assert_eq!(
        events,
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp"
        ]
    );
}
