//! What the answers add up to: outcomes by class, HDR histograms of latency per operation
//! and per step, achieved throughput, and the report in its two forms (a table for people,
//! JSON with stable names for scripts). Everything here is arithmetic on samples; nothing
//! waits or sends.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::mix::{Mix, Op};
use super::plan::{Phase, Plan};

/// The row that measures the order POST alone, apart from the quote before it.
pub const ORDER_PLACE: &str = "order.place";

/// Where a row goes in the table: the operations' own order, the order POST after `order`.
fn row_rank(name: &str) -> usize {
    let position = |name: &str| Op::ALL.iter().position(|op| op.name() == name);
    match position(name) {
        Some(index) => 2 * index,
        None if name == ORDER_PLACE => 2 * position(Op::Order.name()).unwrap_or(0) + 1,
        None => usize::MAX,
    }
}

/// The report's rows in the order the table shows them.
fn row_names(mix: &Mix) -> Vec<&'static str> {
    let mut rows = Vec::new();
    for op in Op::ALL.into_iter().filter(|op| mix.has(*op)) {
        rows.push(op.name());
        if op == Op::Order {
            rows.push(ORDER_PLACE);
        }
    }
    rows
}

/// How one request, or one operation (its first failing request, else its last), ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer with this status.
    Answered(u16),
    /// No answer within `--timeout`.
    Timeout,
    /// No answer at all: refused, reset, unreadable.
    Transport,
    /// A 2xx whose body was not what the next request needs.
    Malformed,
    /// Never sent: `--max-outstanding` operations were already in flight.
    Dropped,
}

impl Outcome {
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Answered(200..=299))
    }
}

/// Latency as coordinated omission does not hide it: from when the operation was due, not
/// from when it happened to be sent. A generator that fell behind (or a server that
/// stalled it) shows up in the figure instead of vanishing from it.
pub fn latency_from_schedule(scheduled: Duration, answered: Duration) -> Duration {
    answered.saturating_sub(scheduled)
}

/// Outcomes by class. 4xx other than 429 are kept by code; 5xx other than 503 together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub status_2xx: u64,
    pub status_4xx: BTreeMap<String, u64>,
    pub status_429: u64,
    pub status_503: u64,
    pub status_5xx: u64,
    /// 1xx and 3xx (redirects are not followed).
    pub status_other: u64,
    pub transport_errors: u64,
    pub timeouts: u64,
    pub malformed: u64,
    pub dropped: u64,
    /// The problem+json `code` of failed answers that had one (`overloaded`,
    /// `rate_limited`, `database_busy`, `upstream_timeout`, ...): which limit answered.
    pub problem_codes: BTreeMap<String, u64>,
}

impl StatusCounts {
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Answered(200..=299) => self.status_2xx += 1,
            Outcome::Answered(429) => self.status_429 += 1,
            Outcome::Answered(503) => self.status_503 += 1,
            Outcome::Answered(code @ 400..=499) => {
                *self.status_4xx.entry(code.to_string()).or_default() += 1;
            }
            Outcome::Answered(500..=599) => self.status_5xx += 1,
            Outcome::Answered(_) => self.status_other += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::Transport => self.transport_errors += 1,
            Outcome::Malformed => self.malformed += 1,
            Outcome::Dropped => self.dropped += 1,
        }
    }

    pub fn add_problem(&mut self, code: &str) {
        *self.problem_codes.entry(code.to_owned()).or_default() += 1;
    }

    /// 4xx other than 429.
    pub fn client_errors(&self) -> u64 {
        self.status_4xx.values().sum()
    }
}

/// Microseconds from 1 µs to an hour, three significant digits.
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// The figures of one row of one step.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latencies of the operations that succeeded, in µs.
    latency: Histogram<u64>,
    status: StatusCounts,
    operations: u64,
    /// Successes answered inside the step's own window (its throughput).
    answered_ok_in_window: u64,
}

impl Recorder {
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            latency: Histogram::new_with_max(HIGHEST_MICROS, 3)?,
            status: StatusCounts::default(),
            operations: 0,
            answered_ok_in_window: 0,
        })
    }

    /// Counts one operation; its latency goes into the histogram only if it succeeded, so
    /// quick refusals (429, 503) cannot make an overloaded run look fast: they are counted
    /// instead.
    pub fn record(&mut self, outcome: Outcome, problem: Option<&str>, latency: Option<Duration>) {
        self.operations += 1;
        self.status.add(outcome);
        if let Some(code) = problem {
            self.status.add_problem(code);
        }
        if let (true, Some(latency)) = (outcome.is_success(), latency) {
            let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.latency.saturating_record(micros.max(1));
        }
    }

    fn report(&self, seconds: f64) -> OpReport {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let latency = (!self.latency.is_empty()).then(|| Latency {
            p50: ms(self.latency.value_at_quantile(0.50)),
            p90: ms(self.latency.value_at_quantile(0.90)),
            p99: ms(self.latency.value_at_quantile(0.99)),
            p99_9: ms(self.latency.value_at_quantile(0.999)),
            max: ms(self.latency.max()),
            mean: self.latency.mean() / 1000.0,
        });
        OpReport {
            operations: self.operations,
            succeeded: self.status.status_2xx,
            errors: self.operations - self.status.status_2xx,
            throughput_per_second: if seconds > 0.0 {
                self.answered_ok_in_window as f64 / seconds
            } else {
                0.0
            },
            latency_ms: latency,
            status: self.status.clone(),
        }
    }
}

/// One operation as it ended, in offsets from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub op: Op,
    /// When it was due.
    pub scheduled: Duration,
    pub outcome: Outcome,
    pub problem: Option<String>,
    /// When its last answer arrived; `None` if it was dropped.
    pub answered: Option<Duration>,
    /// How late the generator started it (its own lag, not the server's).
    pub send_lag: Duration,
    /// HTTP requests it sent.
    pub requests: u32,
    /// The order POST of an `order` operation, timed from its own send.
    pub placed: Option<Placed>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub outcome: Outcome,
    pub problem: Option<String>,
    pub latency: Duration,
    pub answered: Duration,
}

struct StepRecording {
    all: Recorder,
    rows: BTreeMap<&'static str, Recorder>,
    requests: u64,
    max_send_lag: Duration,
}

/// Every step's recorders. Operations are counted in the step they were due in (warm-up:
/// not at all); a success also counts towards the throughput of the step whose window it
/// was answered in.
pub struct Recording {
    steps: Vec<StepRecording>,
}

impl Recording {
    pub fn new(plan: &Plan) -> Result<Self, hdrhistogram::CreationError> {
        let mut steps = Vec::new();
        for _ in plan.steps() {
            let mut rows = BTreeMap::new();
            for op in Op::ALL {
                rows.insert(op.name(), Recorder::new()?);
            }
            rows.insert(ORDER_PLACE, Recorder::new()?);
            steps.push(StepRecording {
                all: Recorder::new()?,
                rows,
                requests: 0,
                max_send_lag: Duration::ZERO,
            });
        }
        Ok(Self { steps })
    }

    pub fn record(&mut self, plan: &Plan, sample: &Sample) {
        let op = sample.op.name();
        if let (true, Some(answered)) = (sample.outcome.is_success(), sample.answered)
            && let Some(Phase::Step(index)) = plan.phase_at(answered)
            && let Some(step) = self.steps.get_mut(index)
        {
            step.all.answered_ok_in_window += 1;
            if let Some(row) = step.rows.get_mut(op) {
                row.answered_ok_in_window += 1;
            }
        }
        if let Some(placed) = &sample.placed
            && placed.outcome.is_success()
            && let Some(Phase::Step(index)) = plan.phase_at(placed.answered)
            && let Some(row) = self
                .steps
                .get_mut(index)
                .and_then(|step| step.rows.get_mut(ORDER_PLACE))
        {
            row.answered_ok_in_window += 1;
        }

        let Some(Phase::Step(index)) = plan.phase_at(sample.scheduled) else {
            return;
        };
        let Some(step) = self.steps.get_mut(index) else {
            return;
        };
        let latency = sample
            .answered
            .map(|answered| latency_from_schedule(sample.scheduled, answered));
        let problem = sample.problem.as_deref();
        step.all.record(sample.outcome, problem, latency);
        if let Some(row) = step.rows.get_mut(op) {
            row.record(sample.outcome, problem, latency);
        }
        if let Some(placed) = &sample.placed
            && let Some(row) = step.rows.get_mut(ORDER_PLACE)
        {
            row.record(
                placed.outcome,
                placed.problem.as_deref(),
                Some(placed.latency),
            );
        }
        step.requests += u64::from(sample.requests);
        step.max_send_lag = step.max_send_lag.max(sample.send_lag);
    }

    pub fn report(&self, plan: &Plan, settings: ReportSettings) -> Report {
        let rows = row_names(&settings.mix);
        let steps = plan
            .steps()
            .iter()
            .zip(&self.steps)
            .enumerate()
            .map(|(index, (step, recorded))| {
                let seconds = step.duration.as_secs_f64();
                StepReport {
                    step: index + 1,
                    rate_per_second: step.rate,
                    duration_seconds: seconds,
                    requests: recorded.requests,
                    max_send_lag_ms: recorded.max_send_lag.as_secs_f64() * 1000.0,
                    overall: recorded.all.report(seconds),
                    by_operation: rows
                        .iter()
                        .filter_map(|name| {
                            let row = recorded.rows.get(name)?;
                            Some((*name, row.report(seconds)))
                        })
                        .collect(),
                }
            })
            .collect();
        Report {
            format: 1,
            url: settings.url,
            mix: settings
                .mix
                .weights()
                .iter()
                .map(|(op, weight)| (op.name(), *weight))
                .collect(),
            warmup_seconds: settings.warmup.as_secs_f64(),
            max_outstanding: settings.max_outstanding,
            timeout_seconds: settings.timeout.as_secs_f64(),
            steps,
        }
    }
}

/// What the report says about the run besides the figures.
pub struct ReportSettings {
    pub url: String,
    pub mix: Mix,
    pub warmup: Duration,
    pub max_outstanding: usize,
    pub timeout: Duration,
}

/// The whole run; `--json` writes exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bumped if a field changes meaning or goes away.
    pub format: u32,
    pub url: String,
    pub mix: BTreeMap<&'static str, u32>,
    pub warmup_seconds: f64,
    pub max_outstanding: usize,
    pub timeout_seconds: f64,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub rate_per_second: f64,
    pub duration_seconds: f64,
    /// HTTP requests sent by the operations due in this step.
    pub requests: u64,
    /// The generator's own worst lag behind the schedule; it is inside the latencies, but
    /// a large one means this machine, not the target, set the pace.
    pub max_send_lag_ms: f64,
    /// Every operation (the order POST is part of `order`, so it is not counted twice).
    pub overall: OpReport,
    pub by_operation: BTreeMap<&'static str, OpReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    /// Operations due in the step, dropped ones included.
    pub operations: u64,
    pub succeeded: u64,
    pub errors: u64,
    /// Successes answered within the step's window, per second of it.
    pub throughput_per_second: f64,
    /// Of the operations that succeeded, from when each was due; `null` if none did.
    pub latency_ms: Option<Latency>,
    pub status: StatusCounts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

const COLUMNS: [&str; 17] = [
    "step",
    "rate/s",
    "operation",
    "ops",
    "ok",
    "achieved/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "4xx",
    "429",
    "503",
    "5xx",
    "transport",
    "dropped",
];

fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A rate as given: `100`, `0.5`.
fn rate(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

fn cells(step: &StepReport, name: &str, row: &OpReport) -> Vec<String> {
    let latency = |pick: fn(&Latency) -> f64| {
        row.latency_ms
            .as_ref()
            .map_or_else(|| "-".to_owned(), |latency| number(pick(latency)))
    };
    let status = &row.status;
    vec![
        step.step.to_string(),
        rate(step.rate_per_second),
        name.to_owned(),
        row.operations.to_string(),
        row.succeeded.to_string(),
        number(row.throughput_per_second),
        latency(|l| l.p50),
        latency(|l| l.p90),
        latency(|l| l.p99),
        latency(|l| l.p99_9),
        latency(|l| l.max),
        status.client_errors().to_string(),
        status.status_429.to_string(),
        status.status_503.to_string(),
        status.status_5xx.to_string(),
        (status.transport_errors + status.timeouts + status.malformed).to_string(),
        status.dropped.to_string(),
    ]
}

/// Columns padded to their widest cell; numbers right-aligned.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = COLUMNS.iter().map(|column| column.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(index, (cell, width))| {
                if index == 2 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let header: Vec<String> = COLUMNS.iter().map(|column| (*column).to_owned()).collect();
    let mut out = vec![line(&header)];
    out.extend(rows.iter().map(|row| line(row)));
    out.join("\n")
}

/// The report as people read it: one row per step, then each step by operation, then the
/// 4xx codes seen.
pub fn render(report: &Report) -> String {
    let mut mix: Vec<(&str, u32)> = report.mix.iter().map(|(n, w)| (*n, *w)).collect();
    mix.sort_by_key(|(name, _)| row_rank(name));
    let mix: Vec<String> = mix
        .iter()
        .map(|(name, weight)| format!("{name}={weight}"))
        .collect();
    let mut out = vec![
        format!(
            "recommerce load on {} (mix {}, warm-up {} s not counted, at most {} outstanding, timeout {} s)",
            report.url,
            mix.join(","),
            number(report.warmup_seconds),
            report.max_outstanding,
            number(report.timeout_seconds),
        ),
        "Latency: of successful operations, from each one's scheduled start (open loop); \
         achieved/s: successes answered within the step."
            .to_owned(),
        String::new(),
        table(
            &report
                .steps
                .iter()
                .map(|step| cells(step, "all", &step.overall))
                .collect::<Vec<_>>(),
        ),
        String::new(),
        "By operation (order.place: the order POST alone, timed from its own send):".to_owned(),
        table(
            &report
                .steps
                .iter()
                .flat_map(|step| {
                    let mut rows: Vec<_> = step.by_operation.iter().collect();
                    rows.sort_by_key(|(name, _)| row_rank(name));
                    rows.into_iter().map(move |(name, row)| (step, *name, row))
                })
                .map(|(step, name, row)| cells(step, name, row))
                .collect::<Vec<_>>(),
        ),
    ];
    let mut codes = Vec::new();
    for step in &report.steps {
        let mut rows: Vec<_> = step.by_operation.iter().collect();
        rows.sort_by_key(|(name, _)| row_rank(name));
        for (name, row) in rows {
            if *name == ORDER_PLACE {
                continue;
            }
            let counted = |counts: &BTreeMap<String, u64>| {
                counts
                    .iter()
                    .map(|(code, count)| format!("{code}×{count}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut parts = Vec::new();
            if !row.status.status_4xx.is_empty() {
                parts.push(format!("4xx {}", counted(&row.status.status_4xx)));
            }
            if !row.status.problem_codes.is_empty() {
                parts.push(format!("problems {}", counted(&row.status.problem_codes)));
            }
            if !parts.is_empty() {
                codes.push(format!("  step {} {name}: {}", step.step, parts.join("; ")));
            }
        }
    }
    if !codes.is_empty() {
        out.push(String::new());
        out.push("Failures by code:".to_owned());
        out.extend(codes);
    }
    let lagging: Vec<String> = report
        .steps
        .iter()
        .filter(|step| step.max_send_lag_ms >= 100.0)
        .map(|step| format!("step {} ({} ms)", step.step, number(step.max_send_lag_ms)))
        .collect();
    if !lagging.is_empty() {
        out.push(String::new());
        out.push(format!(
            "The generator itself fell behind its schedule in {}: this machine, not only the target, limited those steps.",
            lagging.join(", ")
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::Step;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn plan() -> Plan {
        let step = |rate| Step {
            rate,
            duration: Duration::from_secs(1),
        };
        Plan::new(Duration::from_secs(1), vec![step(10.0), step(20.0)]).unwrap()
    }

    fn sample(op: Op, scheduled: u64, answered: u64, outcome: Outcome) -> Sample {
        Sample {
            op,
            scheduled: ms(scheduled),
            outcome,
            problem: None,
            answered: Some(ms(answered)),
            send_lag: Duration::ZERO,
            requests: 1,
            placed: None,
        }
    }

    fn settings(mix: &str) -> ReportSettings {
        ReportSettings {
            url: "http://127.0.0.1:8080".into(),
            mix: mix.parse().unwrap(),
            warmup: Duration::from_secs(1),
            max_outstanding: 100,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn latency_counts_from_the_due_time_so_a_stall_is_not_hidden() {
        // Due at 1.000 s, sent late at 1.900 s because the generator was held up, answered
        // 10 ms after sending: the user waited 910 ms, not 10.
        assert_eq!(latency_from_schedule(ms(1000), ms(1910)), ms(910));
        assert_eq!(latency_from_schedule(ms(1000), ms(999)), Duration::ZERO);
    }

    #[test]
    fn outcomes_fall_into_their_classes() {
        let mut counts = StatusCounts::default();
        for outcome in [
            Outcome::Answered(200),
            Outcome::Answered(202),
            Outcome::Answered(404),
            Outcome::Answered(404),
            Outcome::Answered(422),
            Outcome::Answered(429),
            Outcome::Answered(503),
            Outcome::Answered(502),
            Outcome::Answered(302),
            Outcome::Timeout,
            Outcome::Transport,
            Outcome::Malformed,
            Outcome::Dropped,
        ] {
            counts.add(outcome);
        }
        assert_eq!(counts.status_2xx, 2);
        assert_eq!(
            counts.status_4xx,
            BTreeMap::from([("404".to_owned(), 2), ("422".to_owned(), 1)])
        );
        assert_eq!(counts.client_errors(), 3);
        assert_eq!(
            (counts.status_429, counts.status_503, counts.status_5xx),
            (1, 1, 1)
        );
        assert_eq!(counts.status_other, 1);
        assert_eq!(
            (
                counts.timeouts,
                counts.transport_errors,
                counts.malformed,
                counts.dropped
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn the_summary_has_percentiles_of_successes_only() {
        let mut recorder = Recorder::new().unwrap();
        for millis in 1..=1000 {
            recorder.record(Outcome::Answered(200), None, Some(ms(millis)));
        }
        // A fast refusal is counted, not averaged in.
        recorder.record(Outcome::Answered(429), Some("rate_limited"), Some(ms(0)));
        recorder.record(Outcome::Dropped, None, None);
        let report = recorder.report(10.0);
        assert_eq!(
            (report.operations, report.succeeded, report.errors),
            (1002, 1000, 2)
        );
        assert_eq!(
            report.status.problem_codes,
            BTreeMap::from([("rate_limited".to_owned(), 1)])
        );
        let latency = report.latency_ms.unwrap();
        let near = |value: f64, expected: f64| (value - expected).abs() <= expected * 0.002;
        assert!(near(latency.p50, 500.0), "{latency:?}");
        assert!(near(latency.p90, 900.0), "{latency:?}");
        assert!(near(latency.p99, 990.0), "{latency:?}");
        assert!(near(latency.p99_9, 999.0), "{latency:?}");
        assert!(near(latency.max, 1000.0), "{latency:?}");
        assert!(near(latency.mean, 500.5), "{latency:?}");
        let empty = Recorder::new().unwrap().report(1.0);
        assert!(empty.latency_ms.is_none());
    }

    #[test]
    fn operations_count_in_the_step_they_were_due_and_throughput_where_answered() {
        let plan = plan();
        let mut recording = Recording::new(&plan).unwrap();
        // Warm-up (0–1 s): not counted, but its late success lands in step 1's window.
        recording.record(
            &plan,
            &sample(Op::Browse, 900, 1100, Outcome::Answered(200)),
        );
        // Step 1 (1–2 s): one answered in step 2's window, one refused, one dropped.
        recording.record(
            &plan,
            &sample(Op::Browse, 1500, 2100, Outcome::Answered(200)),
        );
        recording.record(
            &plan,
            &sample(Op::Quote, 1600, 1650, Outcome::Answered(429)),
        );
        recording.record(
            &plan,
            &Sample {
                answered: None,
                requests: 0,
                ..sample(Op::Quote, 1700, 0, Outcome::Dropped)
            },
        );
        // Step 2 (2–3 s): an order, its POST timed on its own.
        recording.record(
            &plan,
            &Sample {
                requests: 2,
                send_lag: ms(3),
                placed: Some(Placed {
                    outcome: Outcome::Answered(202),
                    problem: None,
                    latency: ms(20),
                    answered: ms(2080),
                }),
                ..sample(Op::Order, 2000, 2080, Outcome::Answered(202))
            },
        );
        let report = recording.report(&plan, settings("browse=1,quote=1,order=1"));
        let [first, second] = &report.steps[..] else {
            panic!("two steps: {report:?}");
        };
        assert_eq!(first.overall.operations, 3);
        assert_eq!(first.overall.succeeded, 1);
        assert_eq!(first.requests, 2);
        assert_eq!(first.by_operation["quote"].status.status_429, 1);
        assert_eq!(first.by_operation["quote"].status.dropped, 1);
        assert_eq!(
            first.overall.throughput_per_second, 1.0,
            "the warm-up's success answered in step 1"
        );
        let browse = first.by_operation["browse"].latency_ms.as_ref().unwrap();
        assert!((browse.max - 600.0).abs() < 1.0, "{browse:?}");

        assert_eq!(second.overall.operations, 1);
        assert_eq!(second.overall.throughput_per_second, 2.0);
        assert_eq!(second.requests, 2);
        assert!((second.max_send_lag_ms - 3.0).abs() < 1e-9);
        let order = second.by_operation["order"].latency_ms.as_ref().unwrap();
        let place = second.by_operation[ORDER_PLACE]
            .latency_ms
            .as_ref()
            .unwrap();
        assert!((order.max - 80.0).abs() < 0.1, "{order:?}");
        assert!((place.max - 20.0).abs() < 0.1, "{place:?}");
        assert!(
            !second.by_operation.contains_key("partner"),
            "only the mix's rows"
        );
    }

    #[test]
    fn the_json_uses_the_documented_names() {
        let plan = plan();
        let mut recording = Recording::new(&plan).unwrap();
        recording.record(
            &plan,
            &sample(Op::Browse, 1000, 1010, Outcome::Answered(200)),
        );
        let json =
            serde_json::to_value(recording.report(&plan, settings("browse=60,order=15"))).unwrap();
        assert_eq!(json["format"], 1);
        assert_eq!(json["mix"]["browse"], 60);
        let step = &json["steps"][0];
        assert_eq!(step["step"], 1);
        assert_eq!(step["overall"]["operations"], 1);
        assert!(step["overall"]["latency_ms"]["p99_9"].as_f64().unwrap() > 9.0);
        for key in [
            "status_2xx",
            "status_4xx",
            "status_429",
            "status_503",
            "status_5xx",
            "transport_errors",
            "timeouts",
            "dropped",
        ] {
            assert!(
                step["overall"]["status"].get(key).is_some(),
                "{key} missing"
            );
        }
        assert!(step["by_operation"].get(ORDER_PLACE).is_some());
        assert!(json["steps"][1]["overall"]["latency_ms"].is_null());
    }

    #[test]
    fn rows_follow_the_operations_with_the_order_post_after_its_order() {
        let mut names = vec!["admin", "quote", ORDER_PLACE, "partner", "order", "browse"];
        names.sort_by_key(|name| row_rank(name));
        assert_eq!(
            names,
            ["browse", "quote", "order", ORDER_PLACE, "partner", "admin"]
        );
    }

    #[test]
    fn the_table_has_one_row_per_step_then_rows_by_operation() {
        let plan = plan();
        let mut recording = Recording::new(&plan).unwrap();
        recording.record(
            &plan,
            &sample(Op::Browse, 1000, 1010, Outcome::Answered(200)),
        );
        recording.record(
            &plan,
            &sample(Op::Quote, 1100, 1110, Outcome::Answered(422)),
        );
        recording.record(
            &plan,
            &Sample {
                problem: Some("overloaded".into()),
                ..sample(Op::Quote, 1200, 1210, Outcome::Answered(503))
            },
        );
        let text = render(&recording.report(&plan, settings("browse=1,quote=1,admin=1")));
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .position(|line| line.starts_with("step"))
            .unwrap();
        assert!(lines[header].contains("p99.9 ms"));
        assert!(lines[header + 1].contains(" all "), "{text}");
        assert!(lines[header + 2].contains(" all "), "{text}");
        assert!(lines[header + 3].is_empty(), "one row per step:\n{text}");
        assert!(
            text.contains("step 1 quote: 4xx 422×1; problems overloaded×1"),
            "{text}"
        );
        let by_operation = text.split("By operation").nth(1).unwrap();
        assert_eq!(by_operation.matches(" browse ").count(), 2, "{text}");
        let browse = by_operation.find(" browse ").unwrap();
        let admin = by_operation.find(" admin ").unwrap();
        assert!(browse < admin, "the mix's order, not the alphabet:\n{text}");
        assert!(text.contains("(mix browse=1,quote=1,admin=1,"), "{text}");
    }
}
