//! Services brought to a point of their life through their own code, for the message pacts:
//! a fresh migrated database, the service's own `Applier` and handlers fed the events that
//! lead there, and (for the portal) its own store recording partners' reports.

use chrono::Utc;
use events::order as order_events;
use events::partner as partner_events;
use platform::consumer::{Applied, Applier};
use prost::Message as _;
use uuid::Uuid;

use crate::event_consumers::{apply, apply_at};
use crate::support::migrated;

/// Fulfilment with a logistics and a repair partner, both serving 560001.
pub struct Fulfilment {
    pub db: sea_orm::DatabaseConnection,
    pub applier: Applier,
    pub logistics: Uuid,
    pub repair: Uuid,
}

/// One job as fulfilment holds it: `(order id, job id, partner id)`.
pub type Held = (String, String, String);

impl Fulfilment {
    pub async fn new() -> Self {
        use fulfilment::domain::{NewPartner, PartnerKind};

        let db = migrated::<fulfilment::migrations::Migrator>("fulfilment").await;
        let mut ids = Vec::new();
        for (name, kind) in [
            ("Swift Logistics", PartnerKind::Logistics),
            ("FixIt Repairs", PartnerKind::Repair),
        ] {
            let partner = NewPartner {
                id: Uuid::new_v4(),
                name: name.into(),
                kind,
                pincodes: vec!["560001".into()],
                daily_capacity: 50,
                active: true,
            };
            ids.push(partner.id);
            fulfilment::store::insert_partner(&db, partner)
                .await
                .unwrap();
        }
        Self {
            applier: Applier::new(
                db.clone(),
                fulfilment::consumers::CONSUMER_GROUP,
                fulfilment::consumers::handlers(),
            ),
            db,
            logistics: ids[0],
            repair: ids[1],
        }
    }

    async fn feed(&self, producer: &str, event_type: &str, order_id: &str, payload: Vec<u8>) {
        let applied = apply(&self.applier, producer, event_type, order_id, payload).await;
        assert_eq!(applied, Applied::Applied, "{event_type}");
    }

    /// An order confirmed for a pickup at `pincode`: its id.
    pub async fn confirm(&self, pincode: &str) -> String {
        self.confirm_quoted(pincode, &Uuid::new_v4().to_string())
            .await
    }

    /// An order of `quote_id` confirmed for a pickup at `pincode`: its id.
    pub async fn confirm_quoted(&self, pincode: &str, quote_id: &str) -> String {
        let order_id = Uuid::new_v4().to_string();
        let confirmed = order_events::OrderConfirmed {
            order_id: order_id.clone(),
            shopper_id: "shopper-1".into(),
            quote_id: quote_id.to_owned(),
            variant_id: Uuid::new_v4().to_string(),
            quoted_price: Some(order_events::Money {
                amount_minor: 4_500_000,
                currency: "INR".into(),
            }),
            pickup: Some(order_events::PickupDetails {
                address: "12 MG Road, Bengaluru".into(),
                pincode: pincode.into(),
                slot_date: (Utc::now().date_naive() + chrono::Duration::days(2)).to_string(),
                slot_window: "morning".into(),
            }),
        };
        self.feed(
            "order",
            "order.OrderConfirmed",
            &order_id,
            confirmed.encode_to_vec(),
        )
        .await;
        order_id
    }

    /// The order's open job of `kind`, with the partner holding it.
    pub async fn job(&self, order_id: &str, kind: fulfilment::domain::JobKind) -> Held {
        let order = Uuid::parse_str(order_id).unwrap();
        let job = fulfilment::store::open_jobs_of(&self.db, order)
            .await
            .unwrap()
            .into_iter()
            .find(|job| job.kind == kind)
            .unwrap_or_else(|| panic!("no open {kind:?} job"));
        let partner = job.partner_id.map(|id| id.to_string()).unwrap_or_default();
        (order_id.to_owned(), job.id.to_string(), partner)
    }

    pub async fn cancel(&self, order_id: &str) {
        let cancelled = order_events::OrderCancelled {
            order_id: order_id.to_owned(),
            cancelled_by: "shopper".into(),
            reason: "changed my mind".into(),
        };
        self.feed(
            "order",
            "order.OrderCancelled",
            order_id,
            cancelled.encode_to_vec(),
        )
        .await;
    }

    /// The shopper refused the revised price: fulfilment opens a return job.
    pub async fn refuse_revised_price(&self, order_id: &str) {
        let refused = order_events::RevisedPriceRefused {
            order_id: order_id.to_owned(),
            return_to: None,
        };
        self.feed(
            "order",
            "order.RevisedPriceRefused",
            order_id,
            refused.encode_to_vec(),
        )
        .await;
    }

    /// A partner's report about a job it holds, as the portal publishes it.
    async fn report(&self, (order_id, ..): &Held, event_type: &str, event: impl prost::Message) {
        self.feed(
            "partner-portal",
            event_type,
            order_id,
            event.encode_to_vec(),
        )
        .await;
    }

    pub async fn accepted(&self, held: &Held) {
        let (order_id, job_id, partner_id) = held.clone();
        let event = partner_events::JobAccepted {
            order_id,
            job_id,
            partner_id,
        };
        self.report(held, "partner.JobAccepted", event).await;
    }

    pub async fn picked_up(&self, held: &Held) {
        let (order_id, job_id, partner_id) = held.clone();
        let event = partner_events::PickupReported {
            order_id,
            job_id,
            partner_id,
        };
        self.report(held, "partner.PickupReported", event).await;
    }

    pub async fn delivered_to_the_hub(&self, held: &Held) {
        let (order_id, job_id, partner_id) = held.clone();
        let event = partner_events::HubDeliveryReported {
            order_id,
            job_id,
            partner_id,
        };
        self.report(held, "partner.HubDeliveryReported", event)
            .await;
    }

    pub async fn inspected(&self, held: &Held, answers: Vec<partner_events::Answer>) {
        let (order_id, job_id, partner_id) = held.clone();
        let notes = "hairline crack on the back glass".into();
        let event = partner_events::InspectionReported {
            order_id,
            job_id,
            partner_id,
            answers,
            notes,
        };
        self.report(held, "partner.InspectionReported", event).await;
    }

    pub async fn delivered_back(&self, held: &Held) {
        let (order_id, job_id, partner_id) = held.clone();
        let event = partner_events::ReturnDeliveryReported {
            order_id,
            job_id,
            partner_id,
        };
        self.report(held, "partner.ReturnDeliveryReported", event)
            .await;
    }
}

/// The portal, its job read model fed by its own handlers.
pub struct Portal {
    pub db: sea_orm::DatabaseConnection,
    applier: Applier,
}

impl Portal {
    pub async fn new() -> Self {
        let db = migrated::<partner_portal::migrations::Migrator>("portal").await;
        Self {
            applier: Applier::new(
                db.clone(),
                partner_portal::consumers::CONSUMER_GROUP,
                partner_portal::consumers::handlers(),
            ),
            db,
        }
    }

    /// A job of `kind` fulfilment created and offered to a new partner: `(job id, partner)`.
    pub async fn offered(&self, kind: &str) -> (Uuid, Uuid) {
        let (order_id, job_id, partner) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let order = order_id.to_string();
        let created = events::fulfilment::JobCreated {
            order_id: order.clone(),
            job_id: job_id.to_string(),
            kind: kind.into(),
            pincode: "560001".into(),
            address: "12 MG Road, Bengaluru".into(),
            slot_date: String::new(),
            slot_window: String::new(),
            variant_id: Uuid::new_v4().to_string(),
        };
        let offered = events::fulfilment::PartnerAssigned {
            order_id: order.clone(),
            job_id: job_id.to_string(),
            partner_id: partner.to_string(),
            kind: kind.into(),
        };
        for (seq, (event_type, payload)) in [
            ("fulfilment.JobCreated", created.encode_to_vec()),
            ("fulfilment.PartnerAssigned", offered.encode_to_vec()),
        ]
        .into_iter()
        .enumerate()
        {
            let at = (order.as_str(), seq as u64 + 1);
            let applied = apply_at(&self.applier, "fulfilment", event_type, at, payload).await;
            assert_eq!(applied, Applied::Applied, "{event_type}");
        }
        (job_id, partner)
    }

    /// `partner` reports `report` about `job`, through the portal's store.
    pub async fn report(
        &self,
        job: Uuid,
        partner: Uuid,
        report: partner_portal::published::Report,
    ) {
        partner_portal::store::report(&self.db, job, partner, report)
            .await
            .unwrap();
    }
}

/// Order, its orders walked through its own store and its handlers fed fulfilment's events.
pub struct Order {
    pub store: order::store::OrderStore,
    pub applier: Applier,
}

impl Order {
    pub async fn new() -> Self {
        let db = migrated::<order::migrations::Migrator>("order").await;
        Self {
            applier: Applier::new(
                db.clone(),
                order::consumers::CONSUMER_GROUP,
                order::consumers::handlers(),
            ),
            store: order::store::OrderStore::new(db),
        }
    }

    /// A new order, quoted at ₹45,000, taken through `steps` by the store: its id.
    pub async fn walk(&self, steps: &[order::domain::Step]) -> Uuid {
        use order::store::{Acceptance, IdempotencyKey};

        let order = new_order();
        let key = IdempotencyKey {
            shopper_id: order.shopper_id.clone(),
            key: Uuid::new_v4().to_string(),
            request_hash: "contract".into(),
        };
        let accepted = self
            .store
            .accept(&key, order, |_| "{}".into())
            .await
            .unwrap();
        let Acceptance::Created { order_id, .. } = accepted else {
            panic!("a new key replayed an order");
        };
        for step in steps {
            self.store.step(order_id, step).await.unwrap();
        }
        order_id
    }
}

/// A shopper's new order for a pickup at 560001 the day after tomorrow, paid out by UPI.
pub fn new_order() -> order::domain::NewOrder {
    use order::domain::{NewOrder, PayoutInstructions, PickupRequest};

    let today = Utc::now().date_naive();
    let pickup = PickupRequest::parse(
        "12 MG Road, Bengaluru",
        "560001",
        today + chrono::Duration::days(2),
        "morning",
        today,
    )
    .unwrap();
    let details = [("vpa".to_owned(), "asha@okbank".to_owned())];
    let payout = PayoutInstructions::parse("upi", details.into()).unwrap();
    NewOrder {
        id: Uuid::new_v4(),
        shopper_id: "shopper-1".into(),
        quote_id: Uuid::new_v4(),
        pickup,
        payout,
    }
}
