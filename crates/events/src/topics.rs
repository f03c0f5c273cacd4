//! Topic names, one constant each, so a typo is a compile error rather than a silent new topic.

pub const CATALOG_EVENTS: &str = "catalog.events";
pub const QUOTE_EVENTS: &str = "quote.events";
pub const ORDER_EVENTS: &str = "order.events";
pub const FULFILMENT_EVENTS: &str = "fulfilment.events";
pub const PARTNER_EVENTS: &str = "partner.events";

/// Every topic the platform produces to.
pub const ALL: [&str; 5] = [
    CATALOG_EVENTS,
    QUOTE_EVENTS,
    ORDER_EVENTS,
    FULFILMENT_EVENTS,
    PARTNER_EVENTS,
];

/// The dead-letter topic for `topic`: poison messages go here with the error in headers.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_topic_appends_the_dlq_suffix() {
        assert_eq!(dead_letter_topic(ORDER_EVENTS), "order.events.dlq");
    }
}
