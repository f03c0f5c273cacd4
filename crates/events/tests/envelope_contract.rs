//! The envelope is a wire contract shared by five services: these tests fail if a field is
//! renumbered or retyped, which would silently corrupt every consumer still on the old schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use events::{DecodeError, Envelope, Event};
use prost::Message;

#[derive(Clone, PartialEq, prost::Message)]
struct Probe {
    #[prost(string, tag = "1")]
    name: String,
}

impl Event for Probe {
    const EVENT_TYPE: &'static str = "test.Probe";
    const TOPIC: &'static str = "test.events";
}

#[derive(Clone, PartialEq, prost::Message)]
struct OtherProbe {
    #[prost(uint64, tag = "1")]
    value: u64,
}

impl Event for OtherProbe {
    const EVENT_TYPE: &'static str = "test.OtherProbe";
    const TOPIC: &'static str = "test.events";
}

fn fixed_envelope() -> Envelope {
    let mut envelope = Envelope::wrap_at(
        &Probe { name: "x".into() },
        "agg",
        7,
        "svc",
        "tp",
        Utc.timestamp_opt(1, 2).single().unwrap(),
    );
    envelope.event_id = "id".into();
    envelope
}

#[test]
fn envelope_field_numbers_and_types_never_change() {
    // Each field is `tag, value`; a renumbered or retyped field changes these bytes.
    let expected: Vec<u8> = [
        &[0x0a, 2][..],
        b"id", // 1: event_id
        &[0x12, 10],
        b"test.Probe", // 2: event_type
        &[0x1a, 3],
        b"agg",                       // 3: aggregate_id
        &[0x20, 7],                   // 4: aggregate_seq (varint)
        &[0x2a, 4, 0x08, 1, 0x10, 2], // 5: occurred_at {seconds: 1, nanos: 2}
        &[0x32, 3],
        b"svc", // 6: producer
        &[0x3a, 2],
        b"tp", // 7: traceparent
        &[0x42, 3, 0x0a, 1],
        b"x", // 8: payload = Probe{name: "x"}
    ]
    .concat();
    assert_eq!(fixed_envelope().encode_to_vec(), expected);
}

#[test]
fn a_wrapped_event_opens_as_the_same_event() {
    let probe = Probe {
        name: "phone".into(),
    };
    let envelope = Envelope::wrap(&probe, "agg-1", 3, "catalog", "");
    let decoded = Envelope::decode(envelope.encode_to_vec().as_slice()).unwrap();

    assert_eq!(decoded.open::<Probe>().unwrap(), probe);
    assert_eq!(decoded.aggregate_seq, 3);
    assert_eq!(decoded.event_type, "test.Probe");
    let id = uuid::Uuid::parse_str(&decoded.event_id).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(decoded.occurred_at().is_some());
}

#[test]
fn opening_an_envelope_as_another_type_is_refused() {
    let envelope = Envelope::wrap(&Probe { name: "x".into() }, "a", 1, "p", "");
    assert_eq!(
        envelope.open::<OtherProbe>(),
        Err(DecodeError::WrongType {
            expected: "test.OtherProbe",
            actual: "test.Probe".into()
        })
    );
}

#[test]
fn a_corrupt_payload_is_reported_not_panicked_on() {
    let mut envelope = Envelope::wrap(&Probe { name: "x".into() }, "a", 1, "p", "");
    envelope.payload = vec![0x0a, 0xff];
    assert!(matches!(
        envelope.open::<Probe>(),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn catalog_event_type_names_and_topic_never_change() {
    use events::catalog::{
        ModelPublished, ModelRetired, QuestionnaireReplaced, VariantPriceChanged, VariantRemoved,
    };
    let names = [
        (ModelPublished::EVENT_TYPE, ModelPublished::TOPIC),
        (VariantPriceChanged::EVENT_TYPE, VariantPriceChanged::TOPIC),
        (VariantRemoved::EVENT_TYPE, VariantRemoved::TOPIC),
        (ModelRetired::EVENT_TYPE, ModelRetired::TOPIC),
        (
            QuestionnaireReplaced::EVENT_TYPE,
            QuestionnaireReplaced::TOPIC,
        ),
    ];
    assert_eq!(
        names,
        [
            ("catalog.ModelPublished", "catalog.events"),
            ("catalog.VariantPriceChanged", "catalog.events"),
            ("catalog.VariantRemoved", "catalog.events"),
            ("catalog.ModelRetired", "catalog.events"),
            ("catalog.QuestionnaireReplaced", "catalog.events"),
        ]
    );
}

#[test]
fn catalog_payload_field_numbers_never_change() {
    use events::catalog::{Money, Variant, VariantPriceChanged};
    let event = VariantPriceChanged {
        model_id: "m".into(),
        variant: Some(Variant {
            variant_id: "v".into(),
            name: "n".into(),
            base_price: Some(Money {
                amount_minor: 5,
                currency: "INR".into(),
            }),
        }),
    };
    let expected: Vec<u8> = [
        &[0x0a, 1][..],
        b"m",        // 1: model_id
        &[0x12, 15], // 2: variant
        &[0x0a, 1],
        b"v", //   1: variant_id
        &[0x12, 1],
        b"n", //   2: name
        &[0x1a, 7, 0x08, 5, 0x12, 3],
        b"INR", // 3: base_price {1: 5, 2: "INR"}
    ]
    .concat();
    assert_eq!(event.encode_to_vec(), expected);
}

#[test]
fn order_fulfilment_quote_and_partner_event_names_never_change() {
    use events::{fulfilment, order, partner, quote};
    let names = [
        order::OrderPlaced::EVENT_TYPE,
        order::OrderConfirmed::EVENT_TYPE,
        order::OrderCancelled::EVENT_TYPE,
        order::RevisedPriceRefused::EVENT_TYPE,
        fulfilment::PickupScheduled::EVENT_TYPE,
        fulfilment::InspectionCompleted::EVENT_TYPE,
        quote::QuoteLocked::EVENT_TYPE,
        partner::InspectionReported::EVENT_TYPE,
        fulfilment::JobStatusChanged::EVENT_TYPE,
        partner::ReturnDeliveryReported::EVENT_TYPE,
    ];
    assert_eq!(
        names,
        [
            "order.OrderPlaced",
            "order.OrderConfirmed",
            "order.OrderCancelled",
            "order.RevisedPriceRefused",
            "fulfilment.PickupScheduled",
            "fulfilment.InspectionCompleted",
            "quote.QuoteLocked",
            "partner.InspectionReported",
            "fulfilment.JobStatusChanged",
            "partner.ReturnDeliveryReported",
        ]
    );
    assert_eq!(order::OrderConfirmed::TOPIC, "order.events");
    assert_eq!(fulfilment::PickupScheduled::TOPIC, "fulfilment.events");
    assert_eq!(quote::QuoteLocked::TOPIC, "quote.events");
    assert_eq!(partner::JobAccepted::TOPIC, "partner.events");
}

#[test]
fn fields_other_services_read_keep_their_numbers() {
    use events::{fulfilment, order};
    let inr = |amount_minor| fulfilment::Money {
        amount_minor,
        currency: "INR".into(),
    };
    // The order service reads these from fulfilment.
    let inspected = fulfilment::InspectionCompleted {
        order_id: "o".into(),
        final_price: Some(inr(5)),
        ..Default::default()
    };
    let expected: Vec<u8> = [
        &[0x0a, 1][..],
        b"o",                         // 1: order_id
        &[0x22, 7, 0x08, 5, 0x12, 3], // 4: final_price {1: 5, 2: "INR"}
        b"INR",
    ]
    .concat();
    assert_eq!(inspected.encode_to_vec(), expected);
    let scheduled = fulfilment::PickupScheduled {
        order_id: "o".into(),
        partner_id: "p".into(),
        ..Default::default()
    };
    assert_eq!(scheduled.encode_to_vec(), b"\x0a\x01o\x1a\x01p");
    // Fulfilment reads these from order.
    let confirmed = order::OrderConfirmed {
        order_id: "o".into(),
        quoted_price: Some(order::Money {
            amount_minor: 5,
            currency: "INR".into(),
        }),
        pickup: Some(order::PickupDetails {
            pincode: "5".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let expected: Vec<u8> = [
        &[0x0a, 1][..],
        b"o",                         // 1: order_id
        &[0x2a, 7, 0x08, 5, 0x12, 3], // 5: quoted_price
        b"INR",
        &[0x32, 3, 0x12, 1], // 6: pickup {2: pincode}
        b"5",
    ]
    .concat();
    assert_eq!(confirmed.encode_to_vec(), expected);
}
