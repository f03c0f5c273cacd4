//! When each operation is due. The schedule is fixed before the first request is sent: the
//! i-th arrival of a phase is due `i / rate` seconds after the phase starts, whatever the
//! answers to earlier ones. Nothing here waits or measures; `run` sleeps until each `at`.

use std::time::Duration;

/// One rate held for one duration: a row of the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Operations started per second.
    pub rate: f64,
    pub duration: Duration,
}

/// What an arrival is measured for: the warm-up is run and thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Warmup,
    /// The index of the step (0-based).
    Step(usize),
}

/// One operation of the schedule: due `at` after the run starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub at: Duration,
    pub phase: Phase,
}

/// The warm-up (at the first step's rate) followed by every step, back to back.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Each phase with the offset it starts at, in order.
    phases: Vec<(Phase, Duration, Step)>,
    steps: Vec<Step>,
}

/// The highest rate accepted: beyond it one process cannot keep a schedule anyway.
pub const MAX_RATE: f64 = 100_000.0;

impl Plan {
    pub fn new(warmup: Duration, steps: Vec<Step>) -> Result<Self, String> {
        let first = steps.first().ok_or("at least one step is needed")?;
        let mut phases = Vec::new();
        let mut start = Duration::ZERO;
        if !warmup.is_zero() {
            phases.push((
                Phase::Warmup,
                start,
                Step {
                    rate: first.rate,
                    duration: warmup,
                },
            ));
            start += warmup;
        }
        for (index, step) in steps.iter().enumerate() {
            if !(step.rate.is_finite() && step.rate > 0.0 && step.rate <= MAX_RATE) {
                return Err(format!(
                    "step {}: the rate must be above 0 and at most {MAX_RATE}",
                    index + 1
                ));
            }
            if arrival_count(*step) == 0 {
                return Err(format!(
                    "step {}: {}/s for {:?} starts no operation; run it longer",
                    index + 1,
                    step.rate,
                    step.duration
                ));
            }
            phases.push((Phase::Step(index), start, *step));
            start += step.duration;
        }
        Ok(Self { phases, steps })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Warm-up and steps together.
    pub fn total(&self) -> Duration {
        self.phases
            .last()
            .map_or(Duration::ZERO, |(_, start, step)| *start + step.duration)
    }

    /// Every arrival in order of `at`.
    pub fn arrivals(&self) -> impl Iterator<Item = Arrival> + '_ {
        self.phases.iter().flat_map(|&(phase, start, step)| {
            (0..arrival_count(step)).map(move |index| Arrival {
                at: start + arrival_offset(index, step.rate),
                phase,
            })
        })
    }

    /// The phase whose window holds `offset` (start inclusive, end exclusive); `None` after
    /// the last step.
    pub fn phase_at(&self, offset: Duration) -> Option<Phase> {
        self.phases
            .iter()
            .find(|(_, start, step)| offset >= *start && offset < *start + step.duration)
            .map(|(phase, _, _)| *phase)
    }
}

/// How many operations a step starts: `rate × duration`, rounded down (a float product such
/// as 0.1 × 30 s is not let to lose one to rounding).
pub fn arrival_count(step: Step) -> u64 {
    (step.rate * step.duration.as_secs_f64() + 1e-9).floor() as u64
}

/// When the `index`-th arrival of a phase is due, from the phase's start.
pub fn arrival_offset(index: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(index as f64 / rate)
}

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds (`30`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

/// A rate in operations per second: positive, at most [`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a rate (operations per second)"))?;
    if rate.is_finite() && rate > 0.0 && rate <= MAX_RATE {
        Ok(rate)
    } else {
        Err(format!("a rate is above 0 and at most {MAX_RATE}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, seconds: u64) -> Step {
        Step {
            rate,
            duration: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn arrivals_are_evenly_spaced_at_the_rate_whatever_happens_to_them() {
        let plan = Plan::new(Duration::ZERO, vec![step(4.0, 1)]).unwrap();
        let at: Vec<_> = plan.arrivals().map(|arrival| arrival.at).collect();
        assert_eq!(
            at,
            [0, 250, 500, 750].map(Duration::from_millis).to_vec(),
            "due times do not depend on anything but the rate"
        );
    }

    #[test]
    fn steps_follow_the_warm_up_back_to_back_each_at_its_own_rate() {
        let plan = Plan::new(Duration::from_secs(1), vec![step(2.0, 1), step(4.0, 2)]).unwrap();
        let arrivals: Vec<_> = plan.arrivals().collect();
        let in_phase = |phase| arrivals.iter().filter(|a| a.phase == phase).count();
        assert_eq!(
            in_phase(Phase::Warmup),
            2,
            "the warm-up runs at the first rate"
        );
        assert_eq!(in_phase(Phase::Step(0)), 2);
        assert_eq!(in_phase(Phase::Step(1)), 8);
        assert_eq!(arrivals[2].at, Duration::from_secs(1));
        assert_eq!(arrivals[4].at, Duration::from_secs(2));
        assert!(arrivals.windows(2).all(|pair| pair[0].at < pair[1].at));
        assert_eq!(plan.total(), Duration::from_secs(4));
    }

    #[test]
    fn each_offset_belongs_to_one_phase_and_none_after_the_end() {
        let plan = Plan::new(Duration::from_secs(1), vec![step(2.0, 1), step(4.0, 2)]).unwrap();
        assert_eq!(plan.phase_at(Duration::ZERO), Some(Phase::Warmup));
        assert_eq!(
            plan.phase_at(Duration::from_millis(999)),
            Some(Phase::Warmup)
        );
        assert_eq!(plan.phase_at(Duration::from_secs(1)), Some(Phase::Step(0)));
        assert_eq!(plan.phase_at(Duration::from_secs(2)), Some(Phase::Step(1)));
        assert_eq!(
            plan.phase_at(Duration::from_millis(3999)),
            Some(Phase::Step(1))
        );
        assert_eq!(plan.phase_at(Duration::from_secs(4)), None);
    }

    #[test]
    fn counts_round_down_without_losing_one_to_float_error() {
        assert_eq!(arrival_count(step(0.1, 30)), 3);
        assert_eq!(arrival_count(step(2.5, 3)), 7);
        assert_eq!(arrival_count(step(1000.0, 20)), 20_000);
    }

    #[test]
    fn a_plan_needs_a_step_and_every_step_an_operation() {
        assert!(Plan::new(Duration::ZERO, vec![]).is_err());
        let error = Plan::new(Duration::ZERO, vec![step(10.0, 1), step(0.5, 1)]).unwrap_err();
        assert!(error.starts_with("step 2"), "{error}");
        assert!(Plan::new(Duration::ZERO, vec![step(f64::NAN, 1)]).is_err());
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("10 days").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rates_are_positive_and_bounded() {
        assert_eq!(parse_rate("100"), Ok(100.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-3").is_err());
        assert!(parse_rate("1e9").is_err());
        assert!(parse_rate("lots").is_err());
    }
}
