//! The projection is rebuilt from the topics: a reporting instance on an empty database
//! reads every topic from the beginning (its consumer group is new) and arrives at the
//! same figures.

use crate::figures::{RANGE, expected_partners, publish_scenario, same_figures};
use crate::helpers::{Topics, spawn_app};

#[tokio::test]
async fn a_projection_dropped_and_started_on_an_empty_database_rebuilds_the_same_figures_from_the_topics()
 {
    let topics = Topics::start().await;
    let first = spawn_app(&topics).await;
    let cast = publish_scenario(&topics).await;
    let summary_path = format!("/v1/admin/reports/summary?{RANGE}");
    let partners_path = format!("/v1/admin/reports/partners?{RANGE}");
    first.report_when(&summary_path, same_figures).await;
    first
        .report_when(&partners_path, |report| *report == expected_partners(&cast))
        .await;
    let daily = first
        .json(&format!("/v1/admin/reports/daily?{RANGE}"))
        .await;
    first.stop().await;

    let rebuilt = spawn_app(&topics).await;
    rebuilt.report_when(&summary_path, same_figures).await;
    rebuilt
        .report_when(&partners_path, |report| *report == expected_partners(&cast))
        .await;
    assert_eq!(
        rebuilt
            .json(&format!("/v1/admin/reports/daily?{RANGE}"))
            .await,
        daily
    );
}
