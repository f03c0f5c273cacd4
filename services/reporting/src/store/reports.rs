//! The reports, as aggregate queries over the projection (counted by the database, not
//! here, so a year of orders costs a few grouped scans, not a year of rows in memory).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use strum::IntoEnumIterator;
use uuid::Uuid;

use super::StoreError;
use super::entities::{
    report_jobs, report_offers, report_order_states, report_orders, report_quotes,
};
use crate::domain::figures::{
    Day, PartnerFigures, Payouts, Prices, Summary, TimeInStatus, average,
};
use crate::domain::{OfferAnswer, OrderStatus, ReportRange};

/// Per currency: paid orders, their total, how many had a time to payout, its sum and maximum.
type PayoutRow = (
    Option<String>,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
);
/// Per currency: inspected orders, quoted and final totals, how many were revised down.
type PriceRow = (Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

fn status_of(name: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::parse(name).ok_or_else(|| StoreError::Corrupt(format!("status `{name}`")))
}

/// `counts` for every status in lifecycle order, 0 where none.
fn every_status(
    counts: &[(OrderStatus, i64)],
    keep: impl Fn(OrderStatus) -> bool,
) -> Vec<(OrderStatus, i64)> {
    OrderStatus::iter()
        .filter(|status| keep(*status))
        .map(|status| {
            let count = counts
                .iter()
                .filter(|(counted, _)| *counted == status)
                .map(|(_, count)| count)
                .sum();
            (status, count)
        })
        .collect()
}

fn seconds(millis: Option<i64>) -> Option<f64> {
    millis.map(|millis| millis as f64 / 1000.0)
}

pub async fn summary<C: ConnectionTrait>(
    db: &C,
    range: ReportRange,
    stuck_since: DateTime<Utc>,
) -> Result<Summary, StoreError> {
    let (from, to) = range.bounds();
    let quotes_issued = report_quotes::Entity::find()
        .filter(report_quotes::Column::IssuedOn.between(from.clone(), to.clone()))
        .count(db)
        .await?;
    let ordered_quotes = Query::select()
        .column(report_orders::Column::QuoteId)
        .from(report_orders::Entity)
        .and_where(report_orders::Column::QuoteId.is_not_null())
        .to_owned();
    let quotes_ordered = report_quotes::Entity::find()
        .filter(report_quotes::Column::IssuedOn.between(from.clone(), to.clone()))
        .filter(report_quotes::Column::QuoteId.in_subquery(ordered_quotes))
        .count(db)
        .await?;

    let by_status: Vec<(String, i64)> = report_orders::Entity::find()
        .select_only()
        .column(report_orders::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(report_orders::Column::PlacedOn.between(from.clone(), to.clone()))
        .group_by(report_orders::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let by_status = by_status
        .iter()
        .map(|(name, count)| Ok((status_of(name)?, *count)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let orders_placed = by_status.iter().map(|(_, count)| count).sum();

    let payouts: Vec<PayoutRow> = report_orders::Entity::find()
        .select_only()
        .column(report_orders::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "paid")
        .column_as(Expr::cust("CAST(SUM(paid_minor) AS BIGINT)"), "total")
        .column_as(Expr::cust("COUNT(millis_to_payout)"), "timed")
        .column_as(
            Expr::cust("CAST(SUM(millis_to_payout) AS BIGINT)"),
            "millis",
        )
        .column_as(Expr::cust("MAX(millis_to_payout)"), "longest")
        .filter(report_orders::Column::PaidOn.between(from.clone(), to.clone()))
        .group_by(report_orders::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    let mut payouts: Vec<Payouts> = payouts
        .into_iter()
        .map(|(currency, paid, total, timed, millis, longest)| Payouts {
            currency: currency.unwrap_or_default(),
            orders_paid: paid,
            total_minor: total.unwrap_or(0),
            average_seconds_to_payout: average(millis.unwrap_or(0), timed)
                .map(|ms| (ms / 10.0).round() / 100.0),
            longest_seconds_to_payout: seconds(longest),
        })
        .collect();
    payouts.sort_by(|a, b| a.currency.cmp(&b.currency));

    let prices: Vec<PriceRow> = report_orders::Entity::find()
        .select_only()
        .column(report_orders::Column::Currency)
        .column_as(Expr::cust("COUNT(*)"), "inspected")
        .column_as(Expr::cust("CAST(SUM(quoted_minor) AS BIGINT)"), "quoted")
        .column_as(Expr::cust("CAST(SUM(final_minor) AS BIGINT)"), "final")
        .column_as(
            Expr::cust(
                "CAST(SUM(CASE WHEN final_minor < quoted_minor THEN 1 ELSE 0 END) AS BIGINT)",
            ),
            "lower",
        )
        .filter(report_orders::Column::PlacedOn.between(from.clone(), to.clone()))
        .filter(report_orders::Column::FinalMinor.is_not_null())
        .filter(report_orders::Column::QuotedMinor.is_not_null())
        .group_by(report_orders::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    let mut prices: Vec<Prices> = prices
        .into_iter()
        .map(|(currency, inspected, quoted, final_total, lower)| Prices {
            currency: currency.unwrap_or_default(),
            orders_inspected: inspected,
            average_quoted_minor: average(quoted.unwrap_or(0), inspected),
            average_final_minor: average(final_total.unwrap_or(0), inspected),
            revised_down: lower.unwrap_or(0),
        })
        .collect();
    prices.sort_by(|a, b| a.currency.cmp(&b.currency));

    let spans: Vec<(String, i64, Option<i64>, Option<i64>)> = report_order_states::Entity::find()
        .select_only()
        .column(report_order_states::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "left")
        .column_as(Expr::cust("CAST(SUM(millis) AS BIGINT)"), "millis")
        .column_as(Expr::cust("MAX(millis)"), "longest")
        .filter(report_order_states::Column::LeftOn.between(from.clone(), to.clone()))
        .group_by(report_order_states::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut time_in_status = Vec::new();
    for (name, left, millis, longest) in spans {
        time_in_status.push(TimeInStatus {
            status: status_of(&name)?,
            left,
            average_seconds: average(millis.unwrap_or(0), left)
                .map(|ms| (ms / 10.0).round() / 100.0),
            longest_seconds: seconds(longest),
        });
    }
    time_in_status.sort_by_key(|span| span.status);

    let open: Vec<&'static str> = OrderStatus::iter()
        .filter(|status| !status.is_final())
        .map(OrderStatus::as_str)
        .collect();
    let stuck: Vec<(String, i64)> = report_orders::Entity::find()
        .select_only()
        .column(report_orders::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(report_orders::Column::Status.is_in(open))
        .filter(report_orders::Column::StatusSince.lt(stuck_since))
        .group_by(report_orders::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let stuck = stuck
        .iter()
        .map(|(name, count)| Ok((status_of(name)?, *count)))
        .collect::<Result<Vec<_>, StoreError>>()?;

    Ok(Summary {
        quotes_issued: i64::try_from(quotes_issued).unwrap_or(i64::MAX),
        quotes_ordered: i64::try_from(quotes_ordered).unwrap_or(i64::MAX),
        orders_placed,
        orders_by_status: every_status(&by_status, |_| true),
        payouts,
        prices,
        time_in_status,
        stuck: every_status(&stuck, |status| !status.is_final()),
    })
}

/// Every day of `range`, with its quotes and its orders by their status now.
pub async fn days<C: ConnectionTrait>(db: &C, range: ReportRange) -> Result<Vec<Day>, StoreError> {
    let (from, to) = range.bounds();
    let quotes: Vec<(String, i64)> = report_quotes::Entity::find()
        .select_only()
        .column(report_quotes::Column::IssuedOn)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(report_quotes::Column::IssuedOn.between(from.clone(), to.clone()))
        .group_by(report_quotes::Column::IssuedOn)
        .into_tuple()
        .all(db)
        .await?;
    let orders: Vec<(Option<String>, String, i64)> = report_orders::Entity::find()
        .select_only()
        .column(report_orders::Column::PlacedOn)
        .column(report_orders::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(report_orders::Column::PlacedOn.between(from, to))
        .group_by(report_orders::Column::PlacedOn)
        .group_by(report_orders::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let quotes: BTreeMap<String, i64> = quotes.into_iter().collect();
    let mut orders_by_day: BTreeMap<String, Vec<(OrderStatus, i64)>> = BTreeMap::new();
    for (day, status, count) in orders {
        let Some(day) = day else { continue };
        orders_by_day
            .entry(day)
            .or_default()
            .push((status_of(&status)?, count));
    }
    Ok(range
        .days()
        .map(|day: NaiveDate| {
            let key = crate::domain::day_key(day);
            let counts = orders_by_day
                .get(&key)
                .map(Vec::as_slice)
                .unwrap_or_default();
            Day {
                day,
                quotes_issued: quotes.get(&key).copied().unwrap_or(0),
                orders_placed: counts.iter().map(|(_, count)| count).sum(),
                by_status: every_status(counts, |_| true),
            }
        })
        .collect())
}

/// Every partner offered a job in `range` or due to pick one up in it, by partner id.
pub async fn partners<C: ConnectionTrait>(
    db: &C,
    range: ReportRange,
) -> Result<Vec<PartnerFigures>, StoreError> {
    let (from, to) = range.bounds();
    let offers: Vec<(Uuid, Option<String>, i64)> = report_offers::Entity::find()
        .select_only()
        .column(report_offers::Column::PartnerId)
        .column(report_offers::Column::Answer)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(report_offers::Column::OfferedOn.between(from.clone(), to.clone()))
        .group_by(report_offers::Column::PartnerId)
        .group_by(report_offers::Column::Answer)
        .into_tuple()
        .all(db)
        .await?;
    let pickups: Vec<(Option<Uuid>, i64, Option<i64>)> = report_jobs::Entity::find()
        .select_only()
        .column(report_jobs::Column::PartnerId)
        .column_as(Expr::cust("COUNT(*)"), "picked")
        .column_as(
            Expr::cust("CAST(SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS BIGINT)"),
            "on_time",
        )
        .filter(report_jobs::Column::DueOn.between(from, to))
        .filter(report_jobs::Column::Kind.eq("pickup"))
        .filter(report_jobs::Column::PickedUpAt.is_not_null())
        .filter(report_jobs::Column::PartnerId.is_not_null())
        .group_by(report_jobs::Column::PartnerId)
        .into_tuple()
        .all(db)
        .await?;
    let mut partners: BTreeMap<Uuid, PartnerFigures> = BTreeMap::new();
    for (partner_id, answer, count) in offers {
        let figures = partners
            .entry(partner_id)
            .or_insert_with(|| empty(partner_id));
        figures.offers += count;
        match answer.as_deref().and_then(OfferAnswer::parse) {
            Some(OfferAnswer::Accepted) => figures.accepted += count,
            Some(OfferAnswer::Declined) => figures.declined += count,
            None => {}
        }
    }
    for (partner_id, picked, on_time) in pickups {
        let Some(partner_id) = partner_id else {
            continue;
        };
        let figures = partners
            .entry(partner_id)
            .or_insert_with(|| empty(partner_id));
        figures.pickups += picked;
        figures.on_time_pickups += on_time.unwrap_or(0);
    }
    Ok(partners.into_values().collect())
}

fn empty(partner_id: Uuid) -> PartnerFigures {
    PartnerFigures {
        partner_id,
        offers: 0,
        accepted: 0,
        declined: 0,
        pickups: 0,
        on_time_pickups: 0,
    }
}

/// One status's stays as the database counts them, a column per bucket bound.
#[derive(Debug, sea_orm::FromQueryResult)]
struct StayRow {
    status: String,
    n: i64,
    millis: Option<i64>,
    le_0: Option<i64>,
    le_1: Option<i64>,
    le_2: Option<i64>,
    le_3: Option<i64>,
    le_4: Option<i64>,
    le_5: Option<i64>,
    le_6: Option<i64>,
    le_7: Option<i64>,
    le_8: Option<i64>,
    le_9: Option<i64>,
}

/// Every stay the projection holds, by status, counted into `buckets` (seconds, ascending).
pub async fn stays<C: ConnectionTrait>(
    db: &C,
    buckets: &[u64; 10],
) -> Result<Vec<crate::metrics::Stays>, StoreError> {
    let mut query = report_order_states::Entity::find()
        .select_only()
        .column(report_order_states::Column::Status)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(millis) AS BIGINT)"), "millis");
    for (index, bound) in buckets.iter().enumerate() {
        // Bounds are the metric's constants, never input: written into the statement.
        let millis = bound.saturating_mul(1000);
        query = query.column_as(
            Expr::cust(format!(
                "CAST(SUM(CASE WHEN millis <= {millis} THEN 1 ELSE 0 END) AS BIGINT)"
            )),
            format!("le_{index}"),
        );
    }
    let rows = query
        .group_by(report_order_states::Column::Status)
        .into_model::<StayRow>()
        .all(db)
        .await?;
    let mut stays = Vec::new();
    for row in rows {
        let count = |value: Option<i64>| u64::try_from(value.unwrap_or(0)).unwrap_or(0);
        let cumulative = [
            row.le_0, row.le_1, row.le_2, row.le_3, row.le_4, row.le_5, row.le_6, row.le_7,
            row.le_8, row.le_9,
        ]
        .into_iter()
        .map(count)
        .collect();
        stays.push(crate::metrics::Stays {
            status: status_of(&row.status)?,
            cumulative,
            count: count(Some(row.n)),
            sum_seconds: row.millis.unwrap_or(0) as f64 / 1000.0,
        });
    }
    stays.sort_by_key(|stay| stay.status);
    Ok(stays)
}
