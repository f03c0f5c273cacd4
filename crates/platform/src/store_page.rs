//! What a store's list query answers: one page of items and how many match in all. The
//! routes turn it into [`Paged`](crate::pagination::Paged) with the request's page numbers.

/// One page of a store's list, and the number of items on every page together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}
