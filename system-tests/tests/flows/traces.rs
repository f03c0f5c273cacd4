//! One trace per step of an order, whatever carries it: HTTP between services, the outbox
//! and Kafka between consumers, and the due work a change leaves behind. Spans are taken
//! from the OpenTelemetry SDK's in-memory exporter, as a collector would get them.

use std::collections::HashMap;

use events::fulfilment::PickupScheduled;
use platform::auth::Role;
use platform::testing::{SpanData, SpanRecorder, eventually};
use serde_json::json;
use system_tests::{Marketplace, OrderSide, Platform, SETTLE, order_body};
use uuid::Uuid;

/// The value of attribute `key` of `span`, as text.
fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The one span named `name` whose attributes hold all of `with`; fails if there is none
/// or more than one.
fn the_span<'a>(spans: &'a [SpanData], name: &str, with: &[(&str, &str)]) -> &'a SpanData {
    let found: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == name)
        .filter(|span| {
            with.iter()
                .all(|(key, value)| attribute(span, key).as_deref() == Some(*value))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span {name} with {with:?}, found {}",
        found.len()
    );
    found[0]
}

/// Whether `descendant` is `ancestor` or below it, following parent links among `spans`.
fn descends_from(spans: &[SpanData], descendant: &SpanData, ancestor: &SpanData) -> bool {
    let parents: HashMap<_, _> = spans
        .iter()
        .map(|span| (span.span_context.span_id(), span.parent_span_id))
        .collect();
    let mut at = descendant.span_context.span_id();
    for _ in 0..64 {
        if at == ancestor.span_context.span_id() {
            return true;
        }
        match parents.get(&at) {
            Some(parent) => at = *parent,
            None => return false,
        }
    }
    false
}

/// Waits until `found` holds for the spans recorded so far.
async fn spans_once(recorder: &SpanRecorder, what: &str, found: impl Fn(&[SpanData]) -> bool) {
    eventually(SETTLE, what, || async { found(&recorder.spans()) }).await;
}

fn consumed(spans: &[SpanData], event_type: &str, aggregate: &str) -> bool {
    spans.iter().any(|span| {
        span.name == "consume"
            && attribute(span, "event_type").as_deref() == Some(event_type)
            && attribute(span, "aggregate").as_deref() == Some(aggregate)
    })
}

/// The shopper's placement is one trace through order's processor (due work), quote's lock
/// and fulfilment's consumer that offers the pickup; the partner's acceptance is one trace
/// through the portal, fulfilment and back to order. Each link is a parent, not a guess
/// from timing.
#[tokio::test]
async fn an_order_placed_confirmed_and_scheduled_for_pickup_is_one_trace_per_step_across_the_services()
 {
    let recorder = SpanRecorder::install();
    let market = Marketplace::start().await;
    let logistics = market
        .partner("Swift Pickups", "logistics", &["560001"])
        .await;
    let platform = &market.platform;
    let shopper = platform.token("shopper-traced", Role::Shopper);
    let device = platform.device(&market.catalog).await;
    let quote = platform
        .quote_for(&market.quote, &shopper, device.variant_id, &device.best)
        .await;
    let quote_id = quote["id"].as_str().unwrap();
    let id = platform
        .accepted_order(&market.order, &shopper, quote_id)
        .await;
    platform
        .wait_for_status(&market.order, id, "confirmed")
        .await;
    let pickup = market
        .wait_for_job(&logistics, id, "pickup", "offered")
        .await;
    let order_key = id.to_string();
    spans_once(&recorder, "fulfilment consumed OrderConfirmed", |spans| {
        consumed(spans, "order.OrderConfirmed", &order_key)
    })
    .await;

    let spans = recorder.spans();
    let placed = the_span(&spans, "POST /v1/orders", &[]);
    let trace = placed.span_context.trace_id();
    let locked = the_span(&spans, "POST /v1/quotes/{id}/lock", &[]);
    // The processor may have tried more than once; the attempt that locked is the one.
    let processed = spans
        .iter()
        .filter(|span| {
            span.name == "due_work"
                && attribute(span, "kind").as_deref() == Some("order.advance")
                && attribute(span, "key").as_deref() == Some(order_key.as_str())
        })
        .find(|span| descends_from(&spans, locked, span))
        .expect("quote's lock is not a child of the processor's work that called it");
    let confirmed = spans
        .iter()
        .find(|span| {
            span.name == "consume"
                && attribute(span, "event_type").as_deref() == Some("order.OrderConfirmed")
                && attribute(span, "topic").as_deref() == Some("order.events")
        })
        .expect("a consume span for OrderConfirmed");
    for (what, span) in [
        ("order's processor", processed),
        ("quote's lock", locked),
        ("fulfilment's consumer of OrderConfirmed", confirmed),
    ] {
        assert_eq!(
            span.span_context.trace_id(),
            trace,
            "{what} is not in the placement's trace"
        );
    }
    assert!(
        descends_from(&spans, processed, placed),
        "the processor's work is not a child of the placement request"
    );
    assert!(
        processed.parent_span_is_remote,
        "the due work continues the trace from its row, across the database"
    );
    assert!(
        descends_from(&spans, confirmed, processed),
        "the OrderConfirmed consumer is not a child of the work that published the event"
    );

    // The partner accepts: a trace of its own, carried to fulfilment and back to order.
    market.acts(&logistics, &pickup, "accept", json!({})).await;
    platform
        .wait_for_status(&market.order, id, "pickup_scheduled")
        .await;
    spans_once(&recorder, "order consumed PickupScheduled", |spans| {
        consumed(spans, "fulfilment.PickupScheduled", &order_key)
    })
    .await;
    let spans = recorder.spans();
    let accepted = the_span(&spans, "POST /v1/portal/jobs/{id}/accept", &[]);
    let scheduled: Vec<&SpanData> = spans
        .iter()
        .filter(|span| {
            span.name == "consume"
                && attribute(span, "event_type").as_deref() == Some("fulfilment.PickupScheduled")
        })
        .collect();
    assert!(!scheduled.is_empty());
    for span in scheduled {
        assert_eq!(
            span.span_context.trace_id(),
            accepted.span_context.trace_id(),
            "PickupScheduled is consumed outside the acceptance's trace"
        );
        assert!(
            descends_from(&spans, span, accepted),
            "PickupScheduled's consumer does not descend from the partner's acceptance"
        );
    }
    assert_ne!(
        accepted.span_context.trace_id(),
        trace,
        "the partner's acceptance is a step of its own, not the shopper's request"
    );
}

/// A `traceparent` that is not one, over HTTP or in an event (and a Kafka header of raw
/// bytes), starts a new trace: the request is answered and the event applied as usual.
#[tokio::test]
async fn a_malformed_traceparent_over_http_or_kafka_is_ignored_and_the_work_goes_on() {
    let recorder = SpanRecorder::install();
    // No fulfilment: the test publishes fulfilment's events itself.
    let platform = Platform::start().await;
    let OrderSide {
        catalog,
        quote,
        order,
    } = platform.order_side().await;
    let shopper = platform.token("shopper-malformed-trace", Role::Shopper);
    let device = platform.device(&catalog).await;
    let mut orders = Vec::new();
    for (index, traceparent) in [
        "garbage",
        "00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-zzzzzzzzzzzzzzzz-01",
        "00-00000000000000000000000000000000-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ]
    .into_iter()
    .enumerate()
    {
        let issued = platform
            .quote_for(&quote, &shopper, device.variant_id, &device.best)
            .await;
        let answer = platform
            .http
            .post(order.url("/v1/orders"))
            .bearer_auth(&shopper)
            .header("Idempotency-Key", format!("malformed-trace-{index}"))
            .header("traceparent", traceparent)
            .json(&order_body(issued["id"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202, "traceparent {traceparent:?}");
        let body: serde_json::Value = answer.json().await.unwrap();
        orders.push(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    for id in &orders {
        platform.wait_for_status(&order, *id, "confirmed").await;
    }
    let spans = recorder.spans();
    let placements: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.name == "POST /v1/orders")
        .collect();
    assert_eq!(placements.len(), orders.len());
    for span in placements {
        assert!(
            span.span_context.is_valid() && !span.parent_span_is_remote,
            "a malformed traceparent was taken as a parent"
        );
    }

    // An event whose envelope names no valid trace, with a header of bytes that are not
    // even text, is applied like any other.
    let id = orders[0];
    let event = PickupScheduled {
        order_id: id.to_string(),
        job_id: Uuid::new_v4().to_string(),
        partner_id: Uuid::new_v4().to_string(),
        slot_date: String::new(),
        slot_window: String::new(),
    };
    platform
        .broker
        .publish_in_trace(
            "fulfilment",
            &id.to_string(),
            1,
            &event,
            "00-not-a-trace",
            Some(&[0xff, 0x00, 0xfe, 0x9c]),
        )
        .await;
    platform
        .wait_for_status(&order, id, "pickup_scheduled")
        .await;
}
