//! `recommerce load`: an open-loop HTTP load generator, so an operator can measure their own
//! deployment through its public URL with the traffic a trade-in marketplace sees
//! (browsing, quotes, orders, partner and back-office reads).
//!
//! **Open loop.** Operations start on a fixed schedule (`--rate`, or `--steps` of rates),
//! each at its due time, whether or not earlier ones have been answered. A closed-loop tool
//! (N workers, each sending its next request when the last one returns) slows down with
//! the server it measures: when the server stalls for a second, the workers stop sending,
//! the requests real users would have sent during that second are never made, and the
//! stall shows up as one slow request instead of hundreds ("coordinated omission"). Real
//! users do not wait for each other.
//!
//! **Latency from the schedule.** Each operation's latency is measured from when it was
//! *due*, not from when it was actually sent, so even this generator falling behind (a busy
//! machine, a full connection pool) counts against the figures instead of hiding in them.
//! Its own lag is reported beside them (`max_send_lag_ms`).
//!
//! **Bounded, never slowed.** At most `--max-outstanding` operations are in flight; an
//! arrival beyond that is not sent and is counted as `dropped` (an error) — the schedule
//! itself never waits.
//!
//! The parts: [`plan`] (when each operation is due), [`mix`] (which operation it is),
//! [`stats`] (HDR histograms, status counts, the report), all pure and unit-tested;
//! [`traffic`] (the operations as HTTP); and [`run`] here, which sleeps until each due time
//! and spawns.

pub mod mix;
pub mod plan;
pub mod stats;
pub mod traffic;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use mix::{Mix, Op, Rng};
use plan::{Phase, Plan, Step, parse_duration, parse_rate};
use stats::{Outcome, Placed, Recording, Report, ReportSettings, Sample};
use traffic::{Target, TokenRing, Tokens};

/// The most operations in flight `--max-outstanding` may allow.
const MAX_OUTSTANDING: usize = 1_000_000;

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("schedule").required(true).args(["rate", "steps"])))]
pub struct LoadArgs {
    /// The deployment's public URL (its edge or ingress).
    #[arg(long, env = "RECOMMERCE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Operations started per second, whatever the answers (open loop).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// How long to run at --rate (30s, 2m, 500ms).
    #[arg(long, value_parser = parse_duration, default_value = "30s", conflicts_with = "steps")]
    pub duration: Duration,
    /// Rates to run one after another, e.g. 100,200,400: one report row each.
    #[arg(long, value_parser = parse_rate, value_delimiter = ',')]
    pub steps: Vec<f64>,
    /// How long each of --steps runs.
    #[arg(long, value_parser = parse_duration, default_value = "20s", requires = "steps")]
    pub step_duration: Duration,
    /// Run this long at the first rate before measuring; those operations are not counted.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Operation weights, from browse, quote, order (a quote, then an order for it),
    /// partner (jobs list) and admin (orders list). Default: browse=60,quote=25,order=15,
    /// plus partner=10 and admin=5 when their tokens are given.
    #[arg(long)]
    pub mix: Option<Mix>,
    /// A shopper's bearer token (`recommerce token --role shopper`); give it several times,
    /// or comma-separated, to spread orders over several principals' rate limits.
    #[arg(
        long = "shopper-token",
        env = "RECOMMERCE_SHOPPER_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub shopper_tokens: Vec<String>,
    /// A partner's bearer token, for the `partner` operation (repeatable).
    #[arg(
        long = "partner-token",
        env = "RECOMMERCE_PARTNER_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub partner_tokens: Vec<String>,
    /// An admin's bearer token, for the `admin` operation (repeatable).
    #[arg(
        long = "admin-token",
        env = "RECOMMERCE_ADMIN_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub admin_tokens: Vec<String>,
    /// PIN code of quotes and pickups (the seed partners serve 560001).
    #[arg(long, default_value = "560001")]
    pub pincode: String,
    /// Operations in flight at most; an arrival beyond it is not sent and counts as
    /// `dropped`. Each one in flight holds a connection (mind `ulimit -n`).
    #[arg(long, default_value_t = 1000)]
    pub max_outstanding: usize,
    /// How long one request may take; past it, it counts as a timeout.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Also write the report here as JSON (the table's figures, stable field names).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The arguments checked and resolved: everything a run needs before it sends anything.
#[derive(Debug)]
pub struct Setup {
    pub url: String,
    pub plan: Plan,
    pub mix: Mix,
    pub shoppers: Vec<String>,
    pub partners: Vec<String>,
    pub admins: Vec<String>,
    pub pincode: String,
    pub max_outstanding: usize,
    pub timeout: Duration,
    pub warmup: Duration,
    pub json: Option<PathBuf>,
}

fn tokens(given: Vec<String>) -> Vec<String> {
    given
        .into_iter()
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty())
        .collect()
}

impl Setup {
    pub fn from_args(args: LoadArgs) -> anyhow::Result<Self> {
        let url = url::Url::parse(&args.url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .with_context(|| format!("--url `{}`: an http:// or https:// URL", args.url))?;
        let steps = match args.rate {
            Some(rate) => vec![Step {
                rate,
                duration: args.duration,
            }],
            None => args
                .steps
                .iter()
                .map(|&rate| Step {
                    rate,
                    duration: args.step_duration,
                })
                .collect(),
        };
        let plan = Plan::new(args.warmup, steps).map_err(anyhow::Error::msg)?;
        let shoppers = tokens(args.shopper_tokens);
        let partners = tokens(args.partner_tokens);
        let admins = tokens(args.admin_tokens);
        let mix = args
            .mix
            .unwrap_or_else(|| Mix::default_for(!partners.is_empty(), !admins.is_empty()));
        for (ops, given, flag, how) in [
            (
                &[Op::Quote, Op::Order][..],
                &shoppers,
                "--shopper-token",
                "recommerce token --role shopper",
            ),
            (
                &[Op::Partner][..],
                &partners,
                "--partner-token",
                "recommerce token --role partner --partner ID",
            ),
            (
                &[Op::Admin][..],
                &admins,
                "--admin-token",
                "recommerce token --role admin",
            ),
        ] {
            if let Some(op) = ops.iter().find(|op| mix.has(**op))
                && given.is_empty()
            {
                anyhow::bail!(
                    "the mix has `{}`, which needs {flag} (e.g. from `{how}`, or the tokens \
                     `recommerce dev` prints); or leave it out with --mix",
                    op.name()
                );
            }
        }
        anyhow::ensure!(
            (1..=MAX_OUTSTANDING).contains(&args.max_outstanding),
            "--max-outstanding: from 1 to {MAX_OUTSTANDING}"
        );
        anyhow::ensure!(!args.timeout.is_zero(), "--timeout: above 0");
        anyhow::ensure!(
            args.pincode.len() == 6 && args.pincode.bytes().all(|b| b.is_ascii_digit()),
            "--pincode: six digits"
        );
        Ok(Self {
            url: url.as_str().trim_end_matches('/').to_owned(),
            plan,
            mix,
            shoppers,
            partners,
            admins,
            pincode: args.pincode,
            max_outstanding: args.max_outstanding,
            timeout: args.timeout,
            warmup: args.warmup,
            json: args.json,
        })
    }
}

/// Runs the load and prints the report; an error only for bad arguments or a target that
/// does not answer before the run (errors during the run are counted, not fatal).
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let setup = Setup::from_args(args)?;
    // Fail on an unwritable report file now, not after the run.
    let json_file = match &setup.json {
        Some(path) => Some((
            path.clone(),
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };
    let client = reqwest::Client::builder()
        .timeout(setup.timeout)
        .connect_timeout(setup.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .user_agent(concat!("recommerce-load/", env!("CARGO_PKG_VERSION")))
        .build()?;

    let need_quotes = setup.mix.has(Op::Quote) || setup.mix.has(Op::Order);
    let catalog = traffic::prepare(
        &client,
        &setup.url,
        setup.shoppers.first().map(String::as_str),
        need_quotes,
    )
    .await?;
    for (given, path, flag) in [
        (&setup.shoppers, "/v1/orders?per_page=1", "--shopper-token"),
        (
            &setup.partners,
            "/v1/portal/jobs?per_page=1",
            "--partner-token",
        ),
        (
            &setup.admins,
            "/v1/admin/orders?per_page=1",
            "--admin-token",
        ),
    ] {
        for (index, token) in given.iter().enumerate() {
            traffic::check_token(&client, &setup.url, path, token)
                .await
                .with_context(|| format!("{flag} #{}", index + 1))?;
        }
    }
    let arrivals = setup.plan.arrivals().count();
    eprintln!(
        "recommerce load: {} answers; {arrivals} operations over {:.0} s (mix {})",
        setup.url,
        setup.plan.total().as_secs_f64(),
        setup.mix
    );

    let target = Arc::new(Target::new(
        &setup.url,
        client,
        Tokens {
            shoppers: TokenRing::new(setup.shoppers.clone()),
            partners: TokenRing::new(setup.partners.clone()),
            admins: TokenRing::new(setup.admins.clone()),
        },
        setup.pincode.clone(),
        catalog,
    ));
    let report = drive(&setup, target).await?;
    println!("{}", stats::render(&report));
    if let Some((path, file)) = json_file {
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &report)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn lock(recording: &Mutex<Recording>) -> MutexGuard<'_, Recording> {
    recording.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps until each arrival is due and spawns its operation; then waits for every one still
/// out (each request is bounded by `--timeout`).
async fn drive(setup: &Setup, target: Arc<Target>) -> anyhow::Result<Report> {
    let plan = Arc::new(setup.plan.clone());
    let recording = Arc::new(Mutex::new(Recording::new(&plan)?));
    let outstanding = Arc::new(Semaphore::new(setup.max_outstanding));
    let mut picker = setup.mix.picker();
    let mut seeds = Rng::new(uuid::Uuid::new_v4().as_u64_pair().0);
    let mut announced = None;
    let start = Instant::now();
    for arrival in plan.arrivals() {
        if announced != Some(arrival.phase) {
            announced = Some(arrival.phase);
            match arrival.phase {
                Phase::Warmup => eprintln!(
                    "  warm-up: {:.0} s, not counted",
                    setup.warmup.as_secs_f64()
                ),
                Phase::Step(index) => {
                    if let Some(step) = plan.steps().get(index) {
                        eprintln!(
                            "  step {}/{}: {}/s for {:.0} s",
                            index + 1,
                            plan.steps().len(),
                            step.rate,
                            step.duration.as_secs_f64()
                        );
                    }
                }
            }
        }
        let due = start + arrival.at;
        tokio::time::sleep_until(due).await;
        let op = picker.next_op();
        let mut rng = Rng::new(seeds.next_u64());
        let Ok(permit) = outstanding.clone().try_acquire_owned() else {
            lock(&recording).record(
                &plan,
                &Sample {
                    op,
                    scheduled: arrival.at,
                    outcome: Outcome::Dropped,
                    problem: None,
                    answered: None,
                    send_lag: Duration::ZERO,
                    requests: 0,
                    placed: None,
                },
            );
            continue;
        };
        let send_lag = Instant::now().saturating_duration_since(due);
        let (target, recording, plan) = (target.clone(), recording.clone(), plan.clone());
        tokio::spawn(async move {
            let done = target.perform(op, &mut rng).await;
            let sample = Sample {
                op,
                scheduled: arrival.at,
                outcome: done.outcome,
                problem: done.problem,
                answered: Some(done.answered.saturating_duration_since(start)),
                send_lag,
                requests: done.requests,
                placed: done.placed.map(|placed| Placed {
                    outcome: placed.outcome,
                    problem: placed.problem,
                    latency: placed.latency,
                    answered: placed.answered.saturating_duration_since(start),
                }),
            };
            lock(&recording).record(&plan, &sample);
            drop(permit);
        });
    }
    let still_out = setup.max_outstanding - outstanding.available_permits();
    if still_out > 0 {
        eprintln!("  waiting for {still_out} operations still in flight");
    }
    let permits = u32::try_from(setup.max_outstanding).unwrap_or(u32::MAX);
    let _all_back = outstanding.acquire_many(permits).await?;
    let report = lock(&recording).report(
        &plan,
        ReportSettings {
            url: setup.url.clone(),
            mix: setup.mix.clone(),
            warmup: setup.warmup,
            max_outstanding: setup.max_outstanding,
            timeout: setup.timeout,
        },
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn setup(args: &[&str]) -> anyhow::Result<Setup> {
        let cli = Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()))?;
        Setup::from_args(cli.load)
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", setup(args).unwrap_err())
    }

    #[test]
    fn one_rate_for_a_duration_is_one_step() {
        let setup = setup(&["--rate", "100", "--duration", "2s", "--shopper-token", "s"]).unwrap();
        assert_eq!(
            setup.plan.steps(),
            [Step {
                rate: 100.0,
                duration: Duration::from_secs(2)
            }]
        );
        assert_eq!(setup.plan.arrivals().count(), 200);
        assert_eq!(setup.url, "http://127.0.0.1:8080");
        assert_eq!(setup.mix.to_string(), "browse=60,quote=25,order=15");
    }

    #[test]
    fn steps_share_a_step_duration_after_the_warm_up() {
        let setup = setup(&[
            "--steps",
            "100,200,400",
            "--step-duration",
            "20s",
            "--warmup",
            "5s",
            "--mix",
            "browse=1",
        ])
        .unwrap();
        let rates: Vec<f64> = setup.plan.steps().iter().map(|step| step.rate).collect();
        assert_eq!(rates, [100.0, 200.0, 400.0]);
        assert_eq!(setup.plan.total(), Duration::from_secs(65));
    }

    #[test]
    fn tokens_may_be_repeated_or_comma_separated() {
        let setup = setup(&[
            "--rate",
            "1",
            "--shopper-token",
            "a,b",
            "--shopper-token",
            "c",
            "--partner-token",
            "p",
        ])
        .unwrap();
        assert_eq!(setup.shoppers, ["a", "b", "c"]);
        assert_eq!(
            setup.mix.to_string(),
            "browse=60,quote=25,order=15,partner=10",
            "a partner token adds partner reads to the default mix"
        );
    }

    #[test]
    fn bad_arguments_are_refused_before_anything_is_sent() {
        assert!(error(&[]).contains("--rate"), "a schedule is required");
        assert!(setup(&["--rate", "1", "--steps", "1,2"]).is_err());
        assert!(setup(&["--steps", "1", "--duration", "5s"]).is_err());
        assert!(setup(&["--rate", "1", "--step-duration", "5s"]).is_err());
        assert!(error(&["--rate", "0"]).contains("above 0"));
        assert!(error(&["--rate", "1", "--mix", "browse=x"]).contains("whole number"));
        assert!(error(&["--rate", "1"]).contains("--shopper-token"));
        assert!(error(&["--rate", "1", "--mix", "partner=1"]).contains("--partner-token"));
        assert!(error(&["--rate", "1", "--mix", "admin=1"]).contains("--admin-token"));
        assert!(error(&["--rate", "1", "--mix", "browse=1", "--url", "ftp://x"]).contains("--url"));
        assert!(
            error(&["--rate", "0.5", "--duration", "1s", "--mix", "browse=1"])
                .contains("no operation")
        );
        assert!(
            error(&["--rate", "1", "--mix", "browse=1", "--max-outstanding", "0"])
                .contains("--max-outstanding")
        );
        assert!(
            error(&["--rate", "1", "--mix", "browse=1", "--pincode", "12"]).contains("--pincode")
        );
    }
}
