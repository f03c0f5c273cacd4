//! What each arrival does: the operations, their weights (`--mix browse=60,quote=25,order=15`)
//! and the picker that deals them out, plus the small random source the operations draw
//! pages, devices and answers from.

use std::fmt;
use std::str::FromStr;

/// One thing a user of the platform does; the unit the mix weighs and the report rows name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// A page of the device list, then one device from it.
    Browse,
    /// A quote for a device, with answers from its questionnaire (a shopper).
    Quote,
    /// A fresh quote, then an order for it with an `Idempotency-Key` (a shopper).
    Order,
    /// A partner's list of jobs.
    Partner,
    /// The back office's list of orders.
    Admin,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Browse, Op::Quote, Op::Order, Op::Partner, Op::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Op::Browse => "browse",
            Op::Quote => "quote",
            Op::Order => "order",
            Op::Partner => "partner",
            Op::Admin => "admin",
        }
    }

    fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Operations with positive integer weights, each at most once, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<(Op, u32)>);

impl Mix {
    /// The shopper's trade-in, plus partner (10) and back-office (5) reads when their tokens
    /// are given.
    pub fn default_for(partner: bool, admin: bool) -> Self {
        let mut weights = vec![(Op::Browse, 60), (Op::Quote, 25), (Op::Order, 15)];
        if partner {
            weights.push((Op::Partner, 10));
        }
        if admin {
            weights.push((Op::Admin, 5));
        }
        Self(weights)
    }

    pub fn weights(&self) -> &[(Op, u32)] {
        &self.0
    }

    pub fn has(&self, op: Op) -> bool {
        self.0.iter().any(|(other, _)| *other == op)
    }

    pub fn picker(&self) -> Picker {
        Picker {
            entries: self
                .0
                .iter()
                .map(|&(op, weight)| (op, i64::from(weight), 0))
                .collect(),
            total: self.0.iter().map(|(_, weight)| i64::from(*weight)).sum(),
        }
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut weights: Vec<(Op, u32)> = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: write operation=weight, e.g. browse=60"))?;
            let op = Op::parse(name.trim()).ok_or_else(|| {
                format!(
                    "unknown operation `{}` (one of {})",
                    name.trim(),
                    Op::ALL.map(Op::name).join(", ")
                )
            })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: the weight is a whole number"))?;
            if weights.iter().any(|(seen, _)| *seen == op) {
                return Err(format!("`{}` is weighted twice", op.name()));
            }
            if weight > 1_000_000 {
                return Err(format!("`{part}`: weights are at most 1000000"));
            }
            if weight > 0 {
                weights.push((op, weight));
            }
        }
        if weights.is_empty() {
            return Err("the mix needs at least one operation with a weight above 0".into());
        }
        Ok(Self(weights))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(op, weight)| format!("{}={weight}", op.name()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Smooth weighted round-robin (as nginx balances upstreams): over every `sum(weights)`
/// picks each operation comes exactly its weight's times, spread out rather than in runs,
/// so even a short step gets the mix it asked for.
#[derive(Debug, Clone)]
pub struct Picker {
    entries: Vec<(Op, i64, i64)>,
    total: i64,
}

impl Picker {
    pub fn next_op(&mut self) -> Op {
        for entry in &mut self.entries {
            entry.2 += entry.1;
        }
        let mut best: Option<&mut (Op, i64, i64)> = None;
        for entry in &mut self.entries {
            if best.as_ref().is_none_or(|chosen| entry.2 > chosen.2) {
                best = Some(entry);
            }
        }
        match best {
            Some(entry) => {
                entry.2 -= self.total;
                entry.0
            }
            None => Op::Browse,
        }
    }
}

/// splitmix64: fast, seedable, good enough to pick pages and answers (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_reads_names_and_weights_in_the_order_given() {
        let mix: Mix = "browse=60, quote=25,order=15".parse().unwrap();
        assert_eq!(
            mix.weights(),
            [(Op::Browse, 60), (Op::Quote, 25), (Op::Order, 15)]
        );
        assert_eq!(mix.to_string(), "browse=60,quote=25,order=15");
        let zero: Mix = "browse=1,order=0".parse().unwrap();
        assert!(
            !zero.has(Op::Order),
            "a zero weight leaves the operation out"
        );
    }

    #[test]
    fn a_bad_mix_says_what_is_wrong() {
        for (text, says) in [
            ("browse", "operation=weight"),
            ("buy=3", "unknown operation `buy`"),
            ("browse=x", "whole number"),
            ("browse=-1", "whole number"),
            ("browse=1,browse=2", "twice"),
            ("browse=0", "at least one"),
            ("", "at least one"),
        ] {
            let error = text.parse::<Mix>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_default_adds_partner_and_admin_reads_only_with_their_tokens() {
        assert_eq!(
            Mix::default_for(false, false).to_string(),
            "browse=60,quote=25,order=15"
        );
        assert_eq!(
            Mix::default_for(true, true).to_string(),
            "browse=60,quote=25,order=15,partner=10,admin=5"
        );
    }

    #[test]
    fn the_picker_deals_exact_shares_every_cycle() {
        let mix: Mix = "browse=60,quote=25,order=15".parse().unwrap();
        let mut picker = mix.picker();
        for _cycle in 0..3 {
            let picks: Vec<Op> = (0..100).map(|_| picker.next_op()).collect();
            let count = |op| picks.iter().filter(|pick| **pick == op).count();
            assert_eq!(
                (count(Op::Browse), count(Op::Quote), count(Op::Order)),
                (60, 25, 15)
            );
        }
    }

    #[test]
    fn the_picker_spreads_a_light_operation_out_instead_of_bunching_it() {
        let mix: Mix = "browse=3,order=1".parse().unwrap();
        let mut picker = mix.picker();
        let picks: Vec<Op> = (0..8).map(|_| picker.next_op()).collect();
        let orders: Vec<usize> = picks
            .iter()
            .enumerate()
            .filter(|(_, op)| **op == Op::Order)
            .map(|(index, _)| index)
            .collect();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[1] - orders[0], 4, "{picks:?}");
    }

    #[test]
    fn the_random_source_stays_in_range_and_varies() {
        let mut rng = Rng::new(7);
        let draws: Vec<usize> = (0..1000).map(|_| rng.below(10)).collect();
        assert!(draws.iter().all(|draw| *draw < 10));
        assert!((0..10).all(|value| draws.contains(&value)));
        assert_eq!(rng.below(0), 0);
        assert_eq!(Rng::new(7).next_u64(), Rng::new(7).next_u64());
    }
}
