use events::fulfilment::{
    DevicePickedUp, InspectionCompleted, Money, PickupScheduled, ReturnCompleted,
};
use platform::auth::Role;
use serde_json::Value;
use system_tests::{OrderSide, Platform};
use uuid::Uuid;

struct Fulfilment<'a> {
    platform: &'a Platform,
    order_id: Uuid,
    seq: u64,
}

impl Fulfilment<'_> {
    async fn says<E: events::Event>(&mut self, event: &E) {
        self.seq += 1;
        self.platform
            .publish_fulfilment(self.order_id, self.seq, event)
            .await;
    }

    async fn picks_up_and_inspects(&mut self, final_price: i64, currency: &str) {
        let order_id = self.order_id.to_string();
        let partner_id = Uuid::new_v4().to_string();
        self.says(&PickupScheduled {
            order_id: order_id.clone(),
            job_id: Uuid::new_v4().to_string(),
            partner_id: partner_id.clone(),
            slot_date: String::new(),
            slot_window: String::new(),
        })
        .await;
        self.says(&DevicePickedUp {
            order_id: order_id.clone(),
            job_id: Uuid::new_v4().to_string(),
            partner_id: partner_id.clone(),
        })
        .await;
        self.says(&InspectionCompleted {
            order_id,
            job_id: Uuid::new_v4().to_string(),
            partner_id,
            final_price: Some(Money {
                amount_minor: final_price,
                currency: currency.to_owned(),
            }),
            notes: String::new(),
        })
        .await;
    }
}

fn events_of(timeline: &[(i64, String, String)]) -> Vec<&str> {
    timeline
        .iter()
        .map(|(_, _, event)| event.as_str())
        .collect()
}

/// Fulfilment's events move an order from confirmed to paid, to paid at a revised price,
/// or back to the shopper: the three ways a trade-in ends.
#[tokio::test]
async fn fulfilment_events_carry_orders_to_payout_revised_payout_or_return() {
    let platform = Platform::start().await;
    let OrderSide {
        catalog,
        quote,
        order,
    } = platform.order_side().await;
    let shopper = platform.token("shopper-life", Role::Shopper);
    let device = platform.device(&catalog).await;
    let mut confirmed = Vec::new();
    for _ in 0..3 {
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        let id = platform
            .accepted_order(&order, &shopper, issued["id"].as_str().unwrap())
            .await;
        let json = platform.wait_for_status(&order, id, "confirmed").await;
        confirmed.push((id, json));
    }
    let price = |json: &Value| json["quoted_price"]["amount_minor"].as_i64().unwrap();
    let currency = confirmed[0].1["quoted_price"]["currency"]
        .as_str()
        .unwrap()
        .to_owned();

    // Same condition: paid the quoted price.
    let (paid_id, paid_json) = &confirmed[0];
    let mut fulfilment = Fulfilment {
        platform: &platform,
        order_id: *paid_id,
        seq: 0,
    };
    fulfilment
        .picks_up_and_inspects(price(paid_json), &currency)
        .await;
    let completed = platform
        .wait_for_status(&order, *paid_id, "completed")
        .await;
    assert_eq!(completed["final_price"], paid_json["quoted_price"]);
    assert!(
        completed["payout_reference"]
            .as_str()
            .unwrap()
            .starts_with("rc-payout-")
    );
    assert_eq!(
        events_of(&platform.timeline(&order, *paid_id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderInspected",
            "OrderCompleted"
        ]
    );

    // Worse condition, accepted: paid the revised price.
    let (revised_id, revised_json) = &confirmed[1];
    let revised_price = price(revised_json) / 2;
    let mut fulfilment = Fulfilment {
        platform: &platform,
        order_id: *revised_id,
        seq: 0,
    };
    fulfilment
        .picks_up_and_inspects(revised_price, &currency)
        .await;
    platform
        .wait_for_status(&order, *revised_id, "awaiting_shopper")
        .await;
    let accepted = platform
        .http
        .post(order.url(&format!("/v1/orders/{revised_id}/revised-price/accept")))
        .bearer_auth(&shopper)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let completed = platform
        .wait_for_status(&order, *revised_id, "completed")
        .await;
    assert_eq!(completed["final_price"]["amount_minor"], revised_price);
    assert_eq!(
        events_of(&platform.timeline(&order, *revised_id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderPriceRevised",
            "RevisedPriceAccepted",
            "OrderCompleted"
        ]
    );

    // Worse condition, refused: the device goes back.
    let (returned_id, returned_json) = &confirmed[2];
    let mut fulfilment = Fulfilment {
        platform: &platform,
        order_id: *returned_id,
        seq: 0,
    };
    fulfilment
        .picks_up_and_inspects(price(returned_json) / 2, &currency)
        .await;
    platform
        .wait_for_status(&order, *returned_id, "awaiting_shopper")
        .await;
    let refused = platform
        .http
        .post(order.url(&format!("/v1/orders/{returned_id}/revised-price/refuse")))
        .bearer_auth(&shopper)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200);
    fulfilment
        .says(&ReturnCompleted {
            order_id: returned_id.to_string(),
            job_id: Uuid::new_v4().to_string(),
        })
        .await;
    let returned = platform
        .wait_for_status(&order, *returned_id, "returned")
        .await;
    assert!(returned["payout_reference"].is_null());
    assert_eq!(
        events_of(&platform.timeline(&order, *returned_id).await),
        [
            "OrderPlaced",
            "OrderConfirmed",
            "OrderPickupScheduled",
            "OrderPickedUp",
            "OrderPriceRevised",
            "RevisedPriceRefused",
            "OrderReturned"
        ]
    );
}
