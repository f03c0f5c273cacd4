//! `order_time_in_status_seconds`: how long orders stay in each status, as a Prometheus
//! histogram read from the projection. Each reading counts every stay the projection holds
//! into fixed buckets; the counts only grow as orders move on, so they behave as a
//! histogram's counters (`rate()` and `histogram_quantile()` work), and they are exact: no
//! observation can be made twice by a retried transaction, as one taken while applying an
//! event could. A rebuilt projection starts them again, which Prometheus reads as a reset.
//! Every instance reports the same figures; dashboards take `max` over instances.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use prometheus::Registry;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, LabelPair, Metric, MetricFamily, MetricType};
use sea_orm::DatabaseConnection;

use crate::domain::OrderStatus;

const NAME: &str = "order_time_in_status_seconds";
const HELP: &str =
    "Time orders stayed in a status before moving on, by status (from the events' times)";

/// Bucket bounds in seconds: a minute to a week, the span of an order's life.
pub const BUCKETS: [u64; 10] = [
    60, 300, 900, 1_800, 3_600, 14_400, 43_200, 86_400, 259_200, 604_800,
];

/// One status's stays: cumulative counts per bucket of [`BUCKETS`], how many, their total.
#[derive(Debug, Clone, PartialEq)]
pub struct Stays {
    pub status: OrderStatus,
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum_seconds: f64,
}

/// The histogram as last read.
#[derive(Clone)]
pub struct TimeInStatus {
    desc: Arc<Desc>,
    last: Arc<Mutex<Vec<Stays>>>,
}

impl TimeInStatus {
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let desc = Desc::new(
            NAME.to_owned(),
            HELP.to_owned(),
            vec!["status".to_owned()],
            std::collections::HashMap::new(),
        )?;
        let metric = Self {
            desc: Arc::new(desc),
            last: Arc::new(Mutex::new(Vec::new())),
        };
        registry.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn set(&self, stays: Vec<Stays>) {
        if let Ok(mut last) = self.last.lock() {
            *last = stays;
        }
    }

    /// Reads the projection into the histogram; run on every instance by the builder.
    pub fn reading(
        self,
        db: DatabaseConnection,
    ) -> impl Fn() -> BoxFuture<'static, ()> + Send + 'static {
        move || {
            let (metric, db) = (self.clone(), db.clone());
            Box::pin(async move {
                match crate::store::reports::stays(&db, &BUCKETS).await {
                    Ok(stays) => metric.set(stays),
                    // The last reading stands until the next one works.
                    Err(error) => tracing::warn!(%error, "reading the time in each status failed"),
                }
            })
        }
    }
}

impl Collector for TimeInStatus {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(last) = self.last.lock() else {
            return Vec::new();
        };
        let metrics = last
            .iter()
            .map(|stays| {
                let mut label = LabelPair::default();
                label.set_name("status".to_owned());
                label.set_value(stays.status.as_str().to_owned());
                let buckets = BUCKETS
                    .iter()
                    .zip(&stays.cumulative)
                    .map(|(bound, count)| {
                        let mut bucket = Bucket::default();
                        bucket.set_upper_bound(*bound as f64);
                        bucket.set_cumulative_count(*count);
                        bucket
                    })
                    .collect();
                let mut histogram = Histogram::default();
                histogram.set_bucket(buckets);
                histogram.set_sample_count(stays.count);
                histogram.set_sample_sum(stays.sum_seconds);
                let mut metric = Metric::from_label(vec![label]);
                metric.set_histogram(histogram);
                metric
            })
            .collect();
        let mut family = MetricFamily::default();
        family.set_name(NAME.to_owned());
        family.set_help(HELP.to_owned());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(metrics);
        vec![family]
    }
}
