//! Correlation of synthetic checks with real-user traffic: how many page
//! views a site should be receiving now (its baseline), whether what it
//! receives is so far below that it has gone silent, and what an incident
//! is called once both views are known.
//!
//! Everything here is arithmetic on counts, so that it can be tested with
//! made-up histories; the alerting engine reads the counts from the store.

use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, Poisson};
use std::time::Duration;

/// One hour.
pub const HOUR_MS: i64 = 3_600_000;
/// One week.
pub const WEEK_MS: i64 = 7 * 24 * HOUR_MS;
/// Weeks of the same hour of the week averaged for the seasonal baseline.
pub const SEASONAL_WEEKS: i64 = 4;
/// Weeks of history needed before the hour of the week is trusted.
pub const MIN_SEASONAL_WEEKS: usize = 2;
/// Recent complete hours that set the trend (or, without weeks of
/// history, the whole baseline).
pub const RECENT_HOURS: i64 = 3;
/// Complete hours of history below which the baseline is the recent rate
/// (see [`recent_rate`]) instead of hourly counts.
pub const MIN_RECENT_HOURS: usize = 2;
/// Traffic recorded for less than this gives no baseline at all.
pub const MIN_RECENT_SPAN: Duration = Duration::from_secs(30 * 60);
/// How sure the recent-rate model is that the real rate is at least what it
/// expects: it expects the rate's lower bound at this confidence, so that
/// half an hour of history cannot call a slow minute silence.
pub const RECENT_RATE_CONFIDENCE: f64 = 0.999;
/// Page views a window must be expected to hold before it can show
/// silence: with fewer, even none at all could be chance.
pub const MIN_EXPECTED: f64 = 20.0;
/// Silence means at most this share of the expected page views…
pub const SILENT_SHARE: f64 = 0.5;
/// …with a chance below this of so few arriving by accident.
pub const SILENCE_CONFIDENCE: f64 = 0.001;
/// The longest window looked at for silence: a site that does not expect
/// [`MIN_EXPECTED`] page views in this long is too quiet for a verdict.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(3600);

/// What an incident is, once synthetic results and real-user traffic are
/// seen together. Alert policy levels can be routed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentClass {
    /// A monitor is down; real-user traffic gives no verdict (no site is
    /// linked, or it has too little traffic, or not yet).
    Down,
    /// Synthetic checks fail and real-user traffic went silent.
    ConfirmedOutage,
    /// Synthetic checks fail but real users are still being served.
    SyntheticFailure,
    /// Checks pass but real-user data stopped arriving.
    RumSilent,
    /// A Core Web Vital's 75th percentile is poor for real users.
    RumPerformance,
    /// A checkpoint stopped making contact; its checks moved to the other
    /// checkpoints of their monitors.
    CheckpointOffline,
}

impl IncidentClass {
    /// Every class.
    pub const ALL: [IncidentClass; 6] = [
        IncidentClass::Down,
        IncidentClass::ConfirmedOutage,
        IncidentClass::SyntheticFailure,
        IncidentClass::RumSilent,
        IncidentClass::RumPerformance,
        IncidentClass::CheckpointOffline,
    ];

    /// The stable name (`confirmed_outage`), as stored and as policies
    /// route by it.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentClass::Down => "down",
            IncidentClass::ConfirmedOutage => "confirmed_outage",
            IncidentClass::SyntheticFailure => "synthetic_failure",
            IncidentClass::RumSilent => "rum_silent",
            IncidentClass::RumPerformance => "rum_performance",
            IncidentClass::CheckpointOffline => "checkpoint_offline",
        }
    }

    /// The class from its stable name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == name)
    }

    /// What it means, in the words of an e-mail subject.
    pub fn label(self) -> &'static str {
        match self {
            IncidentClass::Down => "down",
            IncidentClass::ConfirmedOutage => "confirmed outage, real users affected",
            IncidentClass::SyntheticFailure => "synthetic failure, real users still served",
            IncidentClass::RumSilent => {
                "real-user data stopped: is the RUM script still on the pages?"
            }
            IncidentClass::RumPerformance => "real users see poor performance",
            IncidentClass::CheckpointOffline => "checkpoint offline",
        }
    }

    /// What the class means for whoever reads the alert.
    pub fn explanation(self) -> &'static str {
        match self {
            IncidentClass::Down => "The checks fail; real-user traffic gives no verdict.",
            IncidentClass::ConfirmedOutage => {
                "The checks fail and real-user traffic stopped at the same time: real users cannot reach the site."
            }
            IncidentClass::SyntheticFailure => {
                "The checks fail but real users are still being served: likely a checkpoint or network problem."
            }
            IncidentClass::RumSilent => {
                "The checks pass but no real-user data arrives: is the RUM script still on the pages?"
            }
            IncidentClass::RumPerformance => "Real users see a Core Web Vital at its poor level.",
            IncidentClass::CheckpointOffline => {
                "The checkpoint stopped making contact with the server. Its checks run from the monitors' other checkpoints meanwhile; monitors that name no other run nowhere until it is back."
            }
        }
    }

    /// Whether real users are known or presumed to be affected.
    pub fn is_critical(self) -> bool {
        matches!(self, IncidentClass::Down | IncidentClass::ConfirmedOutage)
    }
}

/// A site's page views in one hour (`start` a multiple of [`HOUR_MS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    /// The hour's start, Unix milliseconds.
    pub start: i64,
    /// Page views received in it.
    pub page_views: u64,
}

/// How many page views a site should be receiving.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Expected page views per hour.
    pub per_hour: f64,
    /// Whether it comes from the same hour in past weeks (times the recent
    /// trend) or from the recent hours alone.
    pub seasonal: bool,
}

/// The baseline of a site with less than [`MIN_RECENT_HOURS`] complete
/// hours of history: `page_views` received over the last `span` (at least
/// [`MIN_RECENT_SPAN`]). It expects the lower bound of the rate at
/// [`RECENT_RATE_CONFIDENCE`] (the Poisson rate's exact bound, from the
/// Gamma distribution), not the rate itself: the shorter the history, the
/// wider the bound, and the more silence it takes for a verdict. As
/// history grows, hourly counts take over.
pub fn recent_rate(page_views: u64, span: Duration) -> Result<Baseline, ThinBaseline> {
    if span < MIN_RECENT_SPAN || page_views == 0 {
        return Err(ThinBaseline::TooLittleHistory);
    }
    use statrs::distribution::{ContinuousCDF, Gamma};
    let lower = Gamma::new(page_views as f64, 1.0)
        .map(|gamma| gamma.inverse_cdf(1.0 - RECENT_RATE_CONFIDENCE))
        .unwrap_or(0.0);
    Ok(Baseline {
        per_hour: lower * 3600.0 / span.as_secs_f64(),
        seasonal: false,
    })
}

/// What a site's silence watch expects now, for its page: whether it can
/// give a verdict, and how many page views a few minutes should bring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Expectation {
    /// The window whose page views are expected (seconds).
    pub window_seconds: u64,
    /// The fewest page views the window is expected to hold (2.5 %).
    pub low: u64,
    /// The most (97.5 %).
    pub high: u64,
}

impl Baseline {
    /// The page views `window` should bring, as a range that holds 95 % of
    /// windows of a Poisson count with the baseline's mean.
    pub fn expectation(&self, window: Duration) -> Expectation {
        let mean = self.expected_in(window);
        let (low, high) = match Poisson::new(mean) {
            Ok(poisson) => (poisson.inverse_cdf(0.025), poisson.inverse_cdf(0.975)),
            Err(_) => (0, 0),
        };
        Expectation {
            window_seconds: window.as_secs(),
            low,
            high,
        }
    }
}

impl Baseline {
    /// Page views expected in `window`.
    pub fn expected_in(&self, window: Duration) -> f64 {
        self.per_hour * window.as_secs_f64() / 3600.0
    }

    /// The shortest window that is expected to hold [`MIN_EXPECTED`] page
    /// views (at least a minute), or `None` when even [`LONGEST_WINDOW`]
    /// would not: too little traffic for a verdict.
    pub fn silence_window(&self) -> Option<Duration> {
        if self.per_hour <= 0.0 {
            return None;
        }
        let seconds = (MIN_EXPECTED / self.per_hour * 3600.0).ceil().max(60.0);
        let window = Duration::from_secs_f64(seconds);
        (window <= LONGEST_WINDOW).then_some(window)
    }
}

/// Why there is no baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ThinBaseline {
    /// Fewer complete hours of history than [`MIN_RECENT_HOURS`].
    #[error("less than {MIN_RECENT_HOURS} hours of real-user traffic recorded")]
    TooLittleHistory,
}

/// The baseline for the time `at` from `history`: hourly counts of
/// complete hours before `at` (any order; hours without page views may be
/// missing), and `since`, when the site's traffic began to be recorded.
///
/// With [`MIN_SEASONAL_WEEKS`] weeks of history it is the mean of the same
/// hour of the week over up to [`SEASONAL_WEEKS`] weeks, scaled by the
/// trend (the last [`RECENT_HOURS`] hours against their own seasonal
/// expectation, within ×0.2 to ×5); with less, the mean of the recent hours.
pub fn baseline(history: &[HourCount], since: i64, at: i64) -> Result<Baseline, ThinBaseline> {
    let current_hour = at.div_euclid(HOUR_MS) * HOUR_MS;
    let first_hour = since.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
    let count = |start: i64| -> Option<u64> {
        (start >= first_hour && start < current_hour).then(|| {
            history
                .iter()
                .filter(|hour| hour.start == start)
                .map(|hour| hour.page_views)
                .sum()
        })
    };
    let recent: Vec<(i64, u64)> = (1..=RECENT_HOURS)
        .map(|back| current_hour - back * HOUR_MS)
        .filter_map(|start| count(start).map(|views| (start, views)))
        .collect();
    if recent.len() < MIN_RECENT_HOURS {
        return Err(ThinBaseline::TooLittleHistory);
    }
    let seasonal_mean = |start: i64| -> Option<f64> {
        let weeks: Vec<u64> = (1..=SEASONAL_WEEKS)
            .filter_map(|week| count(start - week * WEEK_MS))
            .collect();
        (weeks.len() >= MIN_SEASONAL_WEEKS)
            .then(|| weeks.iter().sum::<u64>() as f64 / weeks.len() as f64)
    };
    let recent_mean =
        recent.iter().map(|(_, views)| *views as f64).sum::<f64>() / recent.len() as f64;
    let Some(now_seasonal) = seasonal_mean(current_hour) else {
        return Ok(Baseline {
            per_hour: recent_mean,
            seasonal: false,
        });
    };
    let (observed, expected) = recent
        .iter()
        .filter_map(|(start, views)| Some((*views as f64, seasonal_mean(*start)?)))
        .fold((0.0, 0.0), |(o, e), (views, mean)| (o + views, e + mean));
    let trend = if expected > 0.0 {
        (observed / expected).clamp(0.2, 5.0)
    } else {
        1.0
    };
    Ok(Baseline {
        per_hour: now_seasonal * trend,
        seasonal: true,
    })
}

/// What the real-user traffic of a window says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrafficVerdict {
    /// Far below what was expected, with confidence.
    Silent {
        /// Page views received.
        observed: u64,
        /// Page views expected.
        expected: f64,
    },
    /// Real users are still arriving.
    Normal {
        /// Page views received.
        observed: u64,
        /// Page views expected.
        expected: f64,
    },
    /// Too few page views expected in the window to tell either way.
    NotEnoughTraffic {
        /// Page views expected.
        expected: f64,
    },
    /// Below expectation, but not yet far enough to be sure.
    Undecided {
        /// Page views received.
        observed: u64,
        /// Page views expected.
        expected: f64,
    },
}

impl TrafficVerdict {
    /// The traffic picture in a sentence, for messages and timelines.
    pub fn describe(&self) -> String {
        match *self {
            TrafficVerdict::Silent { observed, expected } => format!(
                "real-user traffic silent: {observed} page views where {expected:.0} were expected"
            ),
            TrafficVerdict::Normal { observed, expected } => {
                format!("real users still arriving: {observed} page views ({expected:.0} expected)")
            }
            TrafficVerdict::NotEnoughTraffic { expected } => format!(
                "not enough real-user traffic for a verdict ({expected:.1} page views expected)"
            ),
            TrafficVerdict::Undecided { observed, expected } => format!(
                "real-user traffic low, not yet conclusive: {observed} page views ({expected:.0} expected)"
            ),
        }
    }
}

/// Judges `observed` page views in a window where `expected` were due:
/// silent when at most [`SILENT_SHARE`] of them came and a Poisson count
/// with that mean falls so low with a chance under [`SILENCE_CONFIDENCE`].
pub fn judge(observed: u64, expected: f64) -> TrafficVerdict {
    if expected.is_nan() || expected < MIN_EXPECTED {
        return TrafficVerdict::NotEnoughTraffic { expected };
    }
    if observed as f64 > expected * SILENT_SHARE {
        return TrafficVerdict::Normal { observed, expected };
    }
    let chance = Poisson::new(expected)
        .map(|poisson| poisson.cdf(observed))
        .unwrap_or(1.0);
    if chance < SILENCE_CONFIDENCE {
        TrafficVerdict::Silent { observed, expected }
    } else {
        TrafficVerdict::Undecided { observed, expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Monday 00:00 UTC, far enough from the epoch for weeks of history.
    const MONDAY: i64 = 1_764_547_200_000;

    fn hours(from: i64, to: i64, per_hour: impl Fn(i64) -> u64) -> Vec<HourCount> {
        (from..to)
            .step_by(HOUR_MS as usize)
            .map(|start| HourCount {
                start,
                page_views: per_hour(start),
            })
            .collect()
    }

    #[test]
    fn half_an_hour_of_traffic_gives_a_wary_baseline() {
        // 600 page views an hour for 30 minutes: 300 seen.
        let baseline = recent_rate(300, MIN_RECENT_SPAN).unwrap();
        // It expects less than the rate seen, by the width of its doubt…
        assert!(
            (480.0..560.0).contains(&baseline.per_hour),
            "{}",
            baseline.per_hour
        );
        // …which narrows as history grows.
        let longer = recent_rate(600, Duration::from_secs(3600)).unwrap();
        assert!(longer.per_hour > baseline.per_hour * 600.0 / 600.0);
        assert!(longer.per_hour > 520.0, "{}", longer.per_hour);
        // Still enough for a verdict within minutes.
        assert!(baseline.silence_window().unwrap() <= Duration::from_secs(180));
        assert_eq!(
            recent_rate(300, Duration::from_secs(29 * 60)),
            Err(ThinBaseline::TooLittleHistory)
        );
        assert_eq!(
            recent_rate(0, MIN_RECENT_SPAN),
            Err(ThinBaseline::TooLittleHistory)
        );
        // The page's "expects 51–83 page views per 5 min" for 800/h: the
        // 2.5 % and 97.5 % quantiles of a Poisson count of mean 66.7, as a
        // direct sum of its terms gives them.
        let expectation = Baseline {
            per_hour: 800.0,
            seasonal: false,
        }
        .expectation(Duration::from_secs(300));
        assert_eq!((expectation.low, expectation.high), (51, 83));
    }

    #[test]
    fn without_weeks_of_history_the_recent_hours_are_the_baseline() {
        let at = MONDAY + 10 * HOUR_MS + 600_000;
        let history = hours(MONDAY + 7 * HOUR_MS, MONDAY + 10 * HOUR_MS, |_| 600);
        let baseline = baseline(&history, MONDAY + 6 * HOUR_MS, at).unwrap();
        assert_eq!(
            baseline,
            Baseline {
                per_hour: 600.0,
                seasonal: false
            }
        );
        assert_eq!(baseline.silence_window(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn a_new_site_has_no_baseline() {
        let at = MONDAY + 10 * HOUR_MS;
        let history = hours(MONDAY + 9 * HOUR_MS, at, |_| 600);
        assert_eq!(
            baseline(&history, MONDAY + 8 * HOUR_MS + 1, at),
            Err(ThinBaseline::TooLittleHistory)
        );
    }

    #[test]
    fn the_hour_of_the_week_sets_the_level_and_recent_hours_the_trend() {
        // A site busy at 09:00-17:00 (1000/h) and quiet at night (50/h),
        // growing: this week's recent hours run at twice past weeks'.
        let daily = |start: i64| {
            let hour = (start / HOUR_MS) % 24;
            if (9..17).contains(&hour) { 1000 } else { 50 }
        };
        let now = MONDAY + 4 * WEEK_MS + 9 * HOUR_MS + 60_000;
        let this_week = MONDAY + 4 * WEEK_MS;
        let history = hours(MONDAY, now - 60_000, |start| {
            daily(start) * if start >= this_week { 2 } else { 1 }
        });
        let baseline = baseline(&history, MONDAY, now).unwrap();
        assert!(baseline.seasonal);
        // 09:00 is a busy hour (1000/h in past weeks), twice as busy now,
        // although the hours just before were quiet.
        assert!((baseline.per_hour - 2000.0).abs() < 1e-6, "{baseline:?}");
    }

    #[test]
    fn a_quiet_site_gets_no_verdict() {
        let quiet = Baseline {
            per_hour: 10.0,
            seasonal: false,
        };
        assert_eq!(quiet.silence_window(), None);
        assert!(matches!(
            judge(0, quiet.expected_in(Duration::from_secs(600))),
            TrafficVerdict::NotEnoughTraffic { .. }
        ));
    }

    #[test]
    fn silence_needs_a_deep_drop_and_confidence() {
        assert!(matches!(judge(0, 20.0), TrafficVerdict::Silent { .. }));
        assert!(matches!(judge(3, 30.0), TrafficVerdict::Silent { .. }));
        // Half of what was expected, but at this volume it could be chance.
        assert!(matches!(judge(10, 20.0), TrafficVerdict::Undecided { .. }));
        assert!(matches!(judge(11, 20.0), TrafficVerdict::Normal { .. }));
        assert!(matches!(judge(400, 1000.0), TrafficVerdict::Silent { .. }));
        assert!(matches!(judge(900, 1000.0), TrafficVerdict::Normal { .. }));
        assert!(matches!(
            judge(0, f64::NAN),
            TrafficVerdict::NotEnoughTraffic { .. }
        ));
    }

    #[test]
    fn class_names_round_trip() {
        for class in IncidentClass::ALL {
            assert_eq!(IncidentClass::parse(class.as_str()), Some(class));
        }
    }
}
