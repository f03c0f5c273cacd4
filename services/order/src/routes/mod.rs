//! HTTP handlers. Accepting an order touches only the order database; every change to an
//! existing order runs under that order's lease, like the processor and the consumer.

mod admin;
pub mod answers;
pub mod dto;
mod orders;

pub use admin::{MAX_REASON_CHARS, MAX_STUCK_FOR_MINUTES};
pub use orders::{IDEMPOTENCY_KEY, MAX_IDEMPOTENCY_KEY_BYTES};

use std::sync::Arc;

use platform::auth::{Principal, Role};
use platform::pagination::{PageQuery, PageRequest};
use platform::sequencer::Sequencer;
use platform::service::AdminRoutes;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::OrderRecord;
use crate::error::OrderError;
use crate::store::OrderStore;

pub struct OrderState {
    pub store: OrderStore,
    pub sequencer: Arc<dyn Sequencer>,
    /// Wakes the processor after an accept, so a new order does not wait for its poll.
    pub wake: platform::due_work::Waker,
}

/// `admin`: the admin scope the service builder prepared (dead-letter routes inside).
pub fn configure(cfg: &mut ServiceConfig, admin: &AdminRoutes) {
    let admin = admin.scope();
    cfg.service(orders::place_order)
        .service(orders::list_orders)
        .service(orders::get_order)
        .service(orders::get_timeline)
        .service(orders::cancel_order)
        .service(orders::accept_revised_price)
        .service(orders::refuse_revised_price)
        .service(
            admin
                .service(admin::search_orders)
                .service(admin::admin_get_order)
                .service(admin::admin_cancel_order),
        );
}

fn page_of(query: &PageQuery) -> Result<PageRequest, OrderError> {
    query.validated().map_err(OrderError::InvalidQuery)
}

/// A shopper sees only their own orders; anyone else's is "not found", not "forbidden",
/// so ids cannot be probed.
fn visible_to(order: OrderRecord, principal: &Principal) -> Result<OrderRecord, OrderError> {
    if principal.role == Role::Admin || order.shopper_id == principal.subject {
        Ok(order)
    } else {
        Err(OrderError::OrderNotFound(order.id))
    }
}
