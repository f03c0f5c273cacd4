//! The due-work runner: rows owed by one service, worked off by any number of instances.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::due_work::{DueWork, DueWorkRunner, DueWorkSettings, Outcome, schedule};
use platform::testing::eventually;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use tokio_util::sync::CancellationToken;

use crate::support::database;

const ROWS: usize = 1000;
const POISONED: &str = "poisoned";

/// Records which runner did which row; fails the poisoned row until it is healed.
struct Tally {
    runner: &'static str,
    done: Arc<Mutex<Vec<(String, &'static str)>>>,
    poisoned_attempts: Arc<Mutex<Vec<Instant>>>,
    healed: Arc<AtomicBool>,
    /// Handed its rows in groups (the default `run_together`, one after another).
    together: bool,
}

#[async_trait::async_trait]
impl DueWork for Tally {
    fn kind(&self) -> &'static str {
        "test.tally"
    }

    fn done_together(&self) -> bool {
        self.together
    }

    async fn run(&self, key: &str, _failures: u32) -> Outcome {
        if key == POISONED && !self.healed.load(Ordering::SeqCst) {
            self.poisoned_attempts.lock().unwrap().push(Instant::now());
            return Outcome::Retry("poisoned".into());
        }
        // Long enough that one runner cannot drain a batch before the other claims one.
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.done
            .lock()
            .unwrap()
            .push((key.to_owned(), self.runner));
        Outcome::Done
    }
}

async fn owed(db: &sea_orm::DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM due_work",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_do_a_thousand_rows_once_each_and_a_failing_row_is_retried_without_holding_up_the_rest()
 {
    thousand_rows_by_two_runners(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_handed_over_in_groups_is_done_once_per_row_and_a_failing_row_of_a_group_is_retried_alone()
 {
    thousand_rows_by_two_runners(true).await;
}

async fn thousand_rows_by_two_runners(together: bool) {
    let db = database().await;
    let txn = db.begin().await.unwrap();
    let now = chrono::Utc::now();
    for n in 0..ROWS - 1 {
        schedule(&txn, "test.tally", &format!("row-{n:04}"), now)
            .await
            .unwrap();
    }
    schedule(&txn, "test.tally", POISONED, now).await.unwrap();
    // Scheduling again what is owed keeps one row.
    schedule(
        &txn,
        "test.tally",
        "row-0000",
        now + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(owed(&db).await, ROWS as i64);

    let done = Arc::new(Mutex::new(Vec::new()));
    let poisoned_attempts = Arc::new(Mutex::new(Vec::new()));
    let healed = Arc::new(AtomicBool::new(false));
    let settings = DueWorkSettings {
        batch_size: 50,
        concurrency: 4,
        lease_seconds: 60,
        poll_interval_ms: 20,
        retry_initial_ms: 100,
        retry_max_ms: 400,
        together: 8,
    };
    let stop = CancellationToken::new();
    let mut runners = Vec::new();
    for runner in ["first", "second"] {
        let work = Arc::new(Tally {
            runner,
            done: done.clone(),
            poisoned_attempts: poisoned_attempts.clone(),
            healed: healed.clone(),
            together,
        });
        let runner = DueWorkRunner::new(db.clone(), work, settings.clone());
        runners.push(tokio::spawn(runner.run(stop.clone())));
    }

    eventually(
        Duration::from_secs(60),
        "every row but the poisoned one is done, and that one was retried",
        || async { owed(&db).await == 1 && poisoned_attempts.lock().unwrap().len() >= 3 },
    )
    .await;
    let attempts = poisoned_attempts.lock().unwrap().clone();
    for pair in attempts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(100),
            "retries of the failing row wait at least the first retry delay: {:?}",
            pair[1] - pair[0]
        );
    }
    let remaining = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT key, attempts, last_error FROM due_work",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(remaining.try_get::<String>("", "key").unwrap(), POISONED);
    assert!(remaining.try_get::<i32>("", "attempts").unwrap() >= 2);
    assert_eq!(
        remaining.try_get::<String>("", "last_error").unwrap(),
        "poisoned"
    );

    healed.store(true, Ordering::SeqCst);
    eventually(
        Duration::from_secs(10),
        "the healed row is done",
        || async { owed(&db).await == 0 },
    )
    .await;
    stop.cancel();
    for runner in runners {
        tokio::time::timeout(Duration::from_secs(5), runner)
            .await
            .expect("a runner stops when told")
            .unwrap();
    }

    let done = done.lock().unwrap().clone();
    let mut by_runner: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, runner) in &done {
        *by_runner.entry(runner).or_default() += 1;
    }
    let keys: BTreeSet<&str> = done.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(done.len(), ROWS, "each row done once: {by_runner:?}");
    assert_eq!(keys.len(), ROWS, "every row done");
    assert!(
        by_runner.len() == 2 && by_runner.values().all(|&n| n > 0),
        "both runners took part: {by_runner:?}"
    );
}

#[tokio::test]
async fn a_periodic_task_owed_by_two_instances_starting_one_after_the_other_runs_once_and_owes_its_next_round()
 {
    let db = database().await;
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let mut runners = Vec::new();
    // The second instance starts after the first has already run the round (the runner is
    // given time to), as rolling starts do: it must not owe another.
    for instance in 0..2 {
        let counted = runs.clone();
        let task = platform::due_work::Periodic::new(
            "test.hourly",
            Duration::from_secs(3600),
            move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        );
        task.start_owing(&db).await.unwrap();
        let mut settings = task.settings(platform::retry::RetryPolicy::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ));
        settings.poll_interval_ms = 20;
        let runner = DueWorkRunner::new(db.clone(), Arc::new(task), settings);
        runners.push(tokio::spawn(runner.run(stop.clone())));
        if instance == 0 {
            eventually(
                Duration::from_secs(20),
                "the first instance ran the round",
                || async { runs.load(Ordering::SeqCst) == 1 },
            )
            .await;
        }
    }
    eventually(
        Duration::from_secs(20),
        "the round ran and the next is owed in an hour",
        || async {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM due_work WHERE kind = 'test.hourly' AND lease_until IS NULL",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap() == 1 && runs.load(Ordering::SeqCst) >= 1
        },
    )
    .await;
    let next: chrono::DateTime<chrono::Utc> = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT due_at FROM due_work WHERE kind = 'test.hourly'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "due_at")
        .unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::minutes(59));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "one round, whoever ran it");
    stop.cancel();
    for runner in runners {
        runner.await.unwrap();
    }
}

/// Never finishes: a call to a service that does not answer.
struct Stuck;

#[async_trait::async_trait]
impl DueWork for Stuck {
    fn kind(&self) -> &'static str {
        "test.stuck"
    }

    async fn run(&self, _key: &str, _failures: u32) -> Outcome {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_stopping_runner_gives_back_the_rows_it_cannot_finish_so_the_next_instance_takes_them_at_once()
 {
    let db = database().await;
    schedule(&db, "test.stuck", "one", chrono::Utc::now())
        .await
        .unwrap();
    let settings = DueWorkSettings {
        poll_interval_ms: 20,
        lease_seconds: 3600,
        ..DueWorkSettings::default()
    };
    let stop = CancellationToken::new();
    let runner =
        tokio::spawn(DueWorkRunner::new(db.clone(), Arc::new(Stuck), settings).run(stop.clone()));
    let leased = |db: sea_orm::DatabaseConnection| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM due_work WHERE lease_until IS NOT NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    eventually(Duration::from_secs(10), "the row is claimed", || {
        let db = db.clone();
        async move { leased(db).await == 1 }
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), runner)
        .await
        .expect("the runner stops although its work does not")
        .unwrap();
    assert_eq!(
        leased(db.clone()).await,
        0,
        "the hour-long lease was given back"
    );
    assert_eq!(owed(&db).await, 1, "the work is still owed");
}
