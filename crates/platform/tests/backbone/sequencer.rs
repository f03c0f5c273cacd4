use std::sync::Arc;
use std::time::Duration;

use platform::consumer::{Applied, Applier, ApplyError, Handlers, IncomingEvent};
use platform::sequencer::{
    LocalSequencer, RedisSequencer, Sequencer, SequencerError, run_in_sequence,
};
use platform::testing::shared_redis_url;
use tokio::sync::Mutex;

use crate::support::{Counted, EffectHandler, database, effects, envelope};

fn redis_sequencer(ttl: Duration) -> (RedisSequencer, String) {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    (
        RedisSequencer::new(&shared_redis_url(), &prefix, ttl).unwrap(),
        prefix,
    )
}

/// Many tasks on two "instances" take turns on one key; each records when it ran.
async fn serialises_in_arrival_order(first: Arc<dyn Sequencer>, second: Arc<dyn Sequencer>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for index in 0..40usize {
        let sequencer = if index % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let log = log.clone();
        let running = running.clone();
        tasks.push(tokio::spawn(async move {
            run_in_sequence(sequencer.as_ref(), "order-1", |fence| async move {
                assert_eq!(
                    running.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
                log.lock().await.push(fence);
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            })
            .await
            .unwrap();
        }));
        // Arrival order: each task has asked before the next is spawned.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    let fences = log.lock().await.clone();
    assert_eq!(fences.len(), 40);
    assert!(
        fences.windows(2).all(|pair| pair[0] < pair[1]),
        "fences increase: {fences:?}"
    );
}

#[tokio::test]
async fn the_redis_sequencer_runs_one_holder_at_a_time_with_increasing_fences() {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let ttl = Duration::from_secs(5);
    let first: Arc<dyn Sequencer> =
        Arc::new(RedisSequencer::new(&shared_redis_url(), &prefix, ttl).unwrap());
    let second: Arc<dyn Sequencer> =
        Arc::new(RedisSequencer::new(&shared_redis_url(), &prefix, ttl).unwrap());
    serialises_in_arrival_order(first, second).await;
}

#[tokio::test]
async fn the_local_sequencer_keeps_the_same_contract() {
    let sequencer: Arc<dyn Sequencer> = Arc::new(LocalSequencer::new());
    serialises_in_arrival_order(sequencer.clone(), sequencer).await;
}

#[tokio::test]
async fn waiters_from_many_instances_are_served_first_come_first_served() {
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let instance = || {
        Arc::new(RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_secs(5)).unwrap())
    };
    let holder = instance().acquire("k").await.unwrap();
    let redis = redis::Client::open(shared_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for index in 0..10usize {
        let sequencer = instance();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let lease = sequencer.acquire("k").await.unwrap();
            order.lock().await.push(index);
            lease.release().await;
        }));
        // Arrival order is queue order: wait until this waiter is in line before the next.
        let queue = format!("{prefix}:seq:{{k}}:queue");
        platform::testing::eventually(Duration::from_secs(10), "the waiter queued", || {
            let mut redis = redis.clone();
            let queue = queue.clone();
            async move {
                let length: usize = redis::cmd("LLEN")
                    .arg(&queue)
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                length == index + 1
            }
        })
        .await;
    }
    holder.release().await;
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().await, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_stale_lock_holder_that_paused_past_its_ttl_is_refused_at_commit() {
    // Two instances: the stale holder runs on one, the next holder on the other.
    let (sequencer, prefix) = redis_sequencer(Duration::from_millis(600));
    let other_instance =
        RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_millis(600)).unwrap();
    let db = database().await;
    let applier = Applier::new(
        db.clone(),
        "stale-test",
        Handlers::new().on::<Counted, _>(EffectHandler::default()),
    );
    let incoming = |seq| IncomingEvent {
        envelope: envelope("order-7", seq),
        topic: "t".into(),
        partition: 0,
        offset: 0,
        replay: false,
    };

    let stale = sequencer.acquire("order-7").await.unwrap();
    // The holder stalls (a GC pause, a frozen VM): its lock runs out as if the TTL passed
    // without renewal.
    let mut redis = redis::Client::open(shared_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:seq:{{order-7}}:lock"))
        .query_async(&mut redis)
        .await
        .unwrap();

    let fresh = tokio::time::timeout(Duration::from_secs(10), other_instance.acquire("order-7"))
        .await
        .expect("the lock is free again")
        .unwrap();
    assert!(fresh.fence() > stale.fence());
    assert_eq!(
        applier.apply(fresh.fence(), &incoming(1)).await.unwrap(),
        Applied::Applied
    );

    // The stale holder wakes up and tries to commit the next step with its old fence.
    let refused = applier.apply(stale.fence(), &incoming(2)).await;
    assert!(
        matches!(refused, Err(ApplyError::StaleLease)),
        "{refused:?}"
    );
    assert_eq!(effects(&db).await.len(), 1);

    // Its renewal notices too.
    platform::testing::eventually(
        Duration::from_secs(5),
        "the stale lease knows it is lost",
        || async { stale.is_lost() },
    )
    .await;
    assert_eq!(
        applier.apply(fresh.fence(), &incoming(2)).await.unwrap(),
        Applied::Applied
    );
    fresh.release().await;
}

#[tokio::test]
async fn an_event_applies_once_and_only_in_sequence() {
    let db = database().await;
    let applier = Applier::new(
        db.clone(),
        "seq-test",
        Handlers::new().on::<Counted, _>(EffectHandler::default()),
    );
    let event = |seq| IncomingEvent {
        envelope: envelope("order-9", seq),
        topic: "t".into(),
        partition: 0,
        offset: 0,
        replay: false,
    };
    let second = event(2);
    assert_eq!(
        applier.apply(1, &second).await.unwrap(),
        Applied::Early { expected: 1 }
    );
    let first = event(1);
    assert_eq!(applier.apply(2, &first).await.unwrap(), Applied::Applied);
    assert_eq!(applier.apply(3, &first).await.unwrap(), Applied::Duplicate);
    assert_eq!(applier.apply(4, &second).await.unwrap(), Applied::Applied);
    assert_eq!(
        applier
            .last_applied("test-producer", "order-9")
            .await
            .unwrap(),
        2
    );
    let seqs: Vec<i64> = effects(&db)
        .await
        .into_iter()
        .map(|effect| effect.1)
        .collect();
    assert_eq!(seqs, [1, 2]);
}

#[tokio::test]
async fn pruned_event_ids_still_deduplicate_sequenced_events_by_their_sequence() {
    let db = database().await;
    let applier = Applier::new(
        db.clone(),
        "prune-test",
        Handlers::new().on::<Counted, _>(EffectHandler::default()),
    );
    let sequenced = IncomingEvent {
        envelope: envelope("order-3", 1),
        topic: "t".into(),
        partition: 0,
        offset: 0,
        replay: false,
    };
    assert_eq!(
        applier.apply(1, &sequenced).await.unwrap(),
        Applied::Applied
    );
    let forgotten = applier
        .forget_before(chrono::Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
    assert_eq!(
        applier.apply(2, &sequenced).await.unwrap(),
        Applied::Duplicate
    );
    assert_eq!(effects(&db).await.len(), 1);
}

#[tokio::test]
async fn fences_keep_rising_when_redis_restarts_empty_and_no_key_is_kept_forever() {
    let mut redis = platform::testing::PrivateRedis::start();
    let sequencer = RedisSequencer::new(&redis.url(), "test", Duration::from_secs(5)).unwrap();
    let before = sequencer.acquire("order-1").await.unwrap();
    let fence_before = before.fence();
    before.release().await;

    let mut connection = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!keys.is_empty(), "the last token is kept");
    for key in keys {
        let ttl_ms: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(
            (1..=86_400_000).contains(&ttl_ms),
            "{key} expires within a day, its TTL is {ttl_ms} ms"
        );
    }

    redis.restart();
    let after = sequencer.acquire("order-1").await.unwrap();
    assert!(
        after.fence() > fence_before,
        "{} follows {fence_before}",
        after.fence()
    );
    after.release().await;
}

#[tokio::test]
async fn a_holder_working_past_the_ttl_keeps_its_lease_while_it_is_renewed() {
    let (sequencer, prefix) = redis_sequencer(Duration::from_millis(600));
    let other =
        RedisSequencer::new(&shared_redis_url(), &prefix, Duration::from_millis(600)).unwrap();
    let first = sequencer.acquire("order-1").await.unwrap();
    let second = sequencer.acquire("order-2").await.unwrap();

    // Three TTLs of work: without renewal both locks would have expired twice over.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    assert!(!first.is_lost() && !second.is_lost());
    let taken = tokio::time::timeout(Duration::from_millis(300), other.acquire("order-1")).await;
    assert!(taken.is_err(), "order-1 is still held");

    first.release().await;
    second.release().await;
    let after = tokio::time::timeout(Duration::from_secs(5), other.acquire("order-1"))
        .await
        .expect("released, the lock is free")
        .unwrap();
    after.release().await;
}

#[tokio::test]
async fn taking_a_lease_while_redis_is_down_gives_up_within_the_bound_and_works_again_once_it_is_back()
 {
    let mut redis = platform::testing::PrivateRedis::start();
    let sequencer = RedisSequencer::new(&redis.url(), "test", Duration::from_secs(5))
        .unwrap()
        .giving_up_after(Duration::from_millis(500));
    sequencer.acquire("order-1").await.unwrap().release().await;

    redis.stop();
    // Bounded well above the 500 ms asked for: this proves it answers, not how fast.
    let attempt = tokio::time::timeout(Duration::from_secs(15), sequencer.acquire("order-2"))
        .await
        .expect("acquire answers while Redis is down instead of hanging");
    assert!(
        matches!(attempt, Err(SequencerError::Unavailable(_))),
        "unavailable, not a lease nobody coordinates"
    );

    redis.restart();
    let lease = eventually_acquired(&sequencer, "order-2").await;
    assert!(lease.fence() > 0);
    lease.release().await;
}

async fn eventually_acquired(sequencer: &RedisSequencer, key: &str) -> platform::sequencer::Lease {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match sequencer.acquire(key).await {
            Ok(lease) => return lease,
            Err(error) if std::time::Instant::now() < deadline => {
                tracing::debug!(%error, "Redis not back yet");
            }
            Err(error) => panic!("Redis is back but acquire still fails: {error}"),
        }
    }
}
