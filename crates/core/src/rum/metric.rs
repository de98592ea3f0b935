//! The measurements of a page view, with the value ranges a beacon may carry
//! and, for the Core Web Vitals, Google's good / needs-improvement / poor
//! thresholds.

use serde::{Deserialize, Serialize};

/// One measurement of a page view. Times are milliseconds from the start of
/// the navigation (or from the soft navigation for SPA route changes); CLS
/// is unitless. The names and definitions are the same for real-user data
/// and for synthetic browser checks, so the two can be compared.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Largest Contentful Paint.
    Lcp,
    /// First Contentful Paint.
    Fcp,
    /// Cumulative Layout Shift (largest session window).
    Cls,
    /// Interaction to Next Paint.
    Inp,
    /// Time to first byte (response start).
    Ttfb,
    /// Redirects before the document request.
    Redirect,
    /// DNS lookup.
    Dns,
    /// TCP connect (TLS included).
    Connect,
    /// TLS handshake.
    Tls,
    /// First to last byte of the document.
    Download,
    /// Until the DOM was interactive.
    DomInteractive,
    /// Until DOMContentLoaded finished.
    DomContentLoaded,
    /// Until the load event finished.
    Load,
    /// For a soft navigation: until the DOM settled after the route change.
    Settle,
}

/// How a Core Web Vital value rates by Google's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    /// At or below the "good" threshold.
    Good,
    /// Above good, at or below "poor".
    NeedsImprovement,
    /// Above the "poor" threshold.
    Poor,
}

impl Metric {
    /// Every metric, in a stable order (storage columns follow it).
    pub const ALL: [Metric; 14] = [
        Metric::Lcp,
        Metric::Fcp,
        Metric::Cls,
        Metric::Inp,
        Metric::Ttfb,
        Metric::Redirect,
        Metric::Dns,
        Metric::Connect,
        Metric::Tls,
        Metric::Download,
        Metric::DomInteractive,
        Metric::DomContentLoaded,
        Metric::Load,
        Metric::Settle,
    ];

    /// The Core Web Vitals and the other vitals Google rates.
    pub const RATED: [Metric; 5] = [
        Metric::Lcp,
        Metric::Inp,
        Metric::Cls,
        Metric::Fcp,
        Metric::Ttfb,
    ];

    /// Its position in [`Metric::ALL`] (the declaration order), for
    /// per-metric arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in beacons, the API and the storage column.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Lcp => "lcp",
            Metric::Fcp => "fcp",
            Metric::Cls => "cls",
            Metric::Inp => "inp",
            Metric::Ttfb => "ttfb",
            Metric::Redirect => "redirect",
            Metric::Dns => "dns",
            Metric::Connect => "connect",
            Metric::Tls => "tls",
            Metric::Download => "download",
            Metric::DomInteractive => "dom_interactive",
            Metric::DomContentLoaded => "dom_content_loaded",
            Metric::Load => "load",
            Metric::Settle => "settle",
        }
    }

    /// The metric with this name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }

    /// The largest value a beacon may carry: ten minutes for times, 100 for
    /// CLS. Anything above is an error of the browser or a forgery.
    pub fn max_value(self) -> f64 {
        match self {
            Metric::Cls => 100.0,
            _ => 600_000.0,
        }
    }

    /// Google's (good, poor) thresholds, for the metrics that have them.
    pub fn thresholds(self) -> Option<(f64, f64)> {
        match self {
            Metric::Lcp => Some((2500.0, 4000.0)),
            Metric::Inp => Some((200.0, 500.0)),
            Metric::Cls => Some((0.1, 0.25)),
            Metric::Fcp => Some((1800.0, 3000.0)),
            Metric::Ttfb => Some((800.0, 1800.0)),
            _ => None,
        }
    }

    /// How a value rates, for the metrics that have thresholds.
    pub fn rate(self, value: f64) -> Option<Rating> {
        let (good, poor) = self.thresholds()?;
        Some(if value <= good {
            Rating::Good
        } else if value <= poor {
            Rating::NeedsImprovement
        } else {
            Rating::Poor
        })
    }
}

/// The measurements of one page view; a metric the browser could not
/// measure is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValues([Option<f64>; Metric::ALL.len()]);

impl MetricValues {
    /// The value of one metric.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.0[metric.index()]
    }

    /// Sets the value of one metric.
    pub fn set(&mut self, metric: Metric, value: Option<f64>) {
        self.0[metric.index()] = value;
    }

    /// The metrics that have a value.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, f64)> + '_ {
        Metric::ALL
            .into_iter()
            .filter_map(|metric| self.get(metric).map(|value| (metric, value)))
    }
}

/// Some metrics: what a question needs. A breakdown shows the rated
/// metrics and a time series one, so their reads skip the other columns of
/// raw page views and the other sketches of rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricSet(u32);

impl MetricSet {
    /// Every metric.
    pub const ALL: MetricSet = MetricSet((1 << Metric::ALL.len()) - 1);

    /// These metrics.
    pub fn of(metrics: &[Metric]) -> Self {
        MetricSet(
            metrics
                .iter()
                .fold(0, |bits, metric| bits | 1 << metric.index()),
        )
    }

    /// Whether the set holds `metric`.
    pub fn contains(self, metric: Metric) -> bool {
        self.0 & 1 << metric.index() != 0
    }

    /// The metrics in the set, in the order of [`Metric::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Metric> {
        Metric::ALL
            .into_iter()
            .filter(move |metric| self.contains(*metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sets_hold_what_they_were_made_of() {
        let rated = MetricSet::of(&Metric::RATED);
        assert_eq!(rated.iter().count(), Metric::RATED.len());
        assert!(rated.contains(Metric::Cls) && !rated.contains(Metric::Dns));
        assert_eq!(MetricSet::ALL.iter().collect::<Vec<_>>(), Metric::ALL);
        assert_eq!(MetricSet::of(&[]).iter().count(), 0);
    }

    #[test]
    fn names_round_trip() {
        for (index, metric) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(metric.index(), index);
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::from_name("speed"), None);
    }

    #[test]
    fn ratings_follow_google_thresholds() {
        assert_eq!(Metric::Lcp.rate(2500.0), Some(Rating::Good));
        assert_eq!(Metric::Lcp.rate(2501.0), Some(Rating::NeedsImprovement));
        assert_eq!(Metric::Lcp.rate(4001.0), Some(Rating::Poor));
        assert_eq!(Metric::Cls.rate(0.1), Some(Rating::Good));
        assert_eq!(Metric::Cls.rate(0.3), Some(Rating::Poor));
        assert_eq!(Metric::Inp.rate(350.0), Some(Rating::NeedsImprovement));
        assert_eq!(Metric::Load.rate(1.0), None);
    }

    #[test]
    fn values_are_kept_per_metric() {
        let mut values = MetricValues::default();
        values.set(Metric::Cls, Some(0.02));
        values.set(Metric::Settle, Some(120.0));
        assert_eq!(values.get(Metric::Cls), Some(0.02));
        assert_eq!(values.get(Metric::Lcp), None);
        assert_eq!(
            values.iter().collect::<Vec<_>>(),
            [(Metric::Cls, 0.02), (Metric::Settle, 120.0)]
        );
    }
}
