//! The real-user side of correlation: which RUM site a monitor watches,
//! what that site's traffic says about a window (silent, normal, too thin
//! to tell), and whether its real users see a poor Core Web Vital.
//!
//! The statistics are in core (`correlation.rs`); this module reads the
//! counts they need, hourly from the RUM rollups and per window from the
//! raw page views, and keeps each site's baseline for the hour.

use sightline_core::Timestamp;
use sightline_core::correlation::{self, Baseline, HOUR_MS, HourCount, TrafficVerdict, WEEK_MS};
use sightline_core::rum::{Metric, MetricSet};
use sightline_rum::query::{self, Scope};
use sightline_store::{Monitor, Site, Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The Core Web Vitals watched for poor real-user performance.
pub const WATCHED_VITALS: [Metric; 3] = [Metric::Lcp, Metric::Inp, Metric::Cls];
/// The window a vital's 75th percentile is taken over.
pub const PERFORMANCE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Values of a vital needed in the window before its percentile counts.
pub const MIN_VITAL_SAMPLES: u64 = 20;

/// The site a monitor watches: the one it names, else the one serving the
/// host it checks.
pub fn site_of<'a>(monitor: &Monitor, sites: &'a [Site]) -> Option<&'a Site> {
    if let Some(id) = monitor.site_id {
        return sites.iter().find(|site| site.id == id);
    }
    let host = monitor.spec.check.host()?;
    sites.iter().find(|site| {
        site.spec.origins.iter().any(|origin| {
            url::Url::parse(origin)
                .ok()
                .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
                .is_some_and(|origin_host| origin_host == host)
        })
    })
}

/// A poor Core Web Vital.
#[derive(Debug, Clone, PartialEq)]
pub struct PoorVital {
    /// Which.
    pub metric: Metric,
    /// Its 75th percentile over the window.
    pub p75: f64,
    /// The "poor" threshold it is above.
    pub threshold: f64,
    /// Values it is taken from.
    pub samples: u64,
}

impl PoorVital {
    /// `LCP p75 5.2 s over the last 15 min (poor above 4 s, 130 page views)`.
    pub fn describe(&self) -> String {
        let value = |v: f64| match self.metric {
            Metric::Cls => format!("{v:.2}"),
            _ if v >= 1000.0 => format!("{:.1} s", v / 1000.0),
            _ => format!("{v:.0} ms"),
        };
        format!(
            "{} p75 {} over the last {} min (poor above {}, {} page views)",
            self.metric.name().to_ascii_uppercase(),
            value(self.p75),
            PERFORMANCE_WINDOW.as_secs() / 60,
            value(self.threshold),
            self.samples
        )
    }
}

/// What a site's silence watch expects now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteWatch {
    /// Where the expectation comes from: `hour_of_week` (weeks of
    /// history), `recent_hours` (a few complete hours), `recent_rate` (the
    /// first hours, wary of its short history) or `learning` (too little
    /// traffic recorded yet).
    pub model: &'static str,
    /// The window silence is judged over; none while it cannot be (too
    /// little traffic, or too little history).
    pub silence_window: Option<Duration>,
    /// Page views five minutes should bring.
    pub expects: Option<correlation::Expectation>,
}

/// Reads sites' traffic, keeping each baseline for its hour.
#[derive(Debug, Default)]
pub struct TrafficWatch {
    /// Per site: its hour's baseline.
    baselines: Mutex<HashMap<i64, CachedBaseline>>,
}

/// A site's baseline for one hour: the hour, its hourly baseline (none
/// while history is short), and when the site's traffic began to be
/// recorded (Unix ms).
type CachedBaseline = (i64, Option<Baseline>, i64);

impl TrafficWatch {
    /// The site's baseline now, or `None` when its history is too thin:
    /// from hourly counts once it has [`correlation::MIN_RECENT_HOURS`]
    /// complete hours, else from the recent rate (from half an hour on).
    pub async fn baseline(
        &self,
        store: &Store,
        site: &Site,
        now: Timestamp,
    ) -> Result<Option<Baseline>, StoreError> {
        let hour = now.as_millis().div_euclid(HOUR_MS) * HOUR_MS;
        if let Some((cached_hour, baseline, since)) = self.cached(site.id)
            && cached_hour == hour
        {
            return match baseline {
                Some(baseline) => Ok(Some(baseline)),
                None => self.recent_rate(store, site, since, now).await,
            };
        }
        let scope = Scope {
            from: Timestamp::from_millis(hour - (correlation::SEASONAL_WEEKS + 1) * WEEK_MS),
            to: Timestamp::from_millis(hour),
            filters: Vec::new(),
        };
        let cells = query::aggregate_cells(
            store,
            site.id,
            &scope,
            Some(HOUR_MS),
            None,
            MetricSet::of(&[]),
        )
        .await?;
        let history: Vec<HourCount> = cells
            .iter()
            .map(|((start, _), aggregate)| HourCount {
                start: *start,
                page_views: aggregate.page_views(),
            })
            .collect();
        // Traffic counts from the site's creation, or from its first
        // recorded hour if page views were imported from before it.
        let since = history
            .iter()
            .filter(|hour| hour.page_views > 0)
            .map(|hour| hour.start - HOUR_MS)
            .min()
            .unwrap_or(i64::MAX)
            .min(site.created_at.as_millis());
        let baseline = correlation::baseline(&history, since, now.as_millis()).ok();
        // Where the hourly history begins: the first hour with page views
        // (imported from before the site), or the site's creation.
        let began = history
            .iter()
            .filter(|hour| hour.page_views > 0)
            .map(|hour| hour.start)
            .min()
            .unwrap_or(i64::MAX)
            .min(site.created_at.as_millis());
        if let Ok(mut cache) = self.baselines.lock() {
            cache.insert(site.id, (hour, baseline, began));
        }
        match baseline {
            Some(baseline) => Ok(Some(baseline)),
            None => self.recent_rate(store, site, began, now).await,
        }
    }

    /// The recent-rate baseline: the page views since the first one (in
    /// the last hours at most), read afresh, as it changes by the minute.
    async fn recent_rate(
        &self,
        store: &Store,
        site: &Site,
        began: i64,
        now: Timestamp,
    ) -> Result<Option<Baseline>, StoreError> {
        let since = began.max(now.as_millis() - correlation::RECENT_HOURS * HOUR_MS);
        let Some(first) = store
            .first_page_view_since(site.id, Timestamp::from(since))
            .await?
        else {
            return Ok(None);
        };
        let from = first.as_millis();
        let span = Duration::from_millis((now.as_millis() - from).max(0) as u64);
        if span < correlation::MIN_RECENT_SPAN {
            return Ok(None);
        }
        let views = store
            .count_page_views(site.id, Timestamp::from(from), now)
            .await?;
        Ok(correlation::recent_rate(views.max(0) as u64, span).ok())
    }

    /// What the silence watch of a site expects now, and from what.
    pub async fn watching(
        &self,
        store: &Store,
        site: &Site,
        now: Timestamp,
    ) -> Result<SiteWatch, StoreError> {
        let baseline = self.baseline(store, site, now).await?;
        let hourly = self.cached(site.id).and_then(|(_, hourly, _)| hourly);
        let model = match (baseline, hourly) {
            (Some(baseline), _) if baseline.seasonal => "hour_of_week",
            (Some(_), Some(_)) => "recent_hours",
            (Some(_), None) => "recent_rate",
            (None, _) => "learning",
        };
        let five_minutes = Duration::from_secs(300);
        Ok(SiteWatch {
            model,
            silence_window: baseline.and_then(|baseline| baseline.silence_window()),
            expects: baseline.map(|baseline| baseline.expectation(five_minutes)),
        })
    }

    fn cached(&self, site: i64) -> Option<CachedBaseline> {
        self.baselines.lock().ok()?.get(&site).copied()
    }

    /// What the site's traffic in `[from, to)` says against its baseline.
    pub async fn verdict(
        &self,
        store: &Store,
        site: &Site,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<TrafficVerdict>, StoreError> {
        let Some(baseline) = self.baseline(store, site, to).await? else {
            return Ok(None);
        };
        let window = Duration::from_millis((to.as_millis() - from.as_millis()).max(0) as u64);
        let observed = store.count_page_views(site.id, from, to).await?;
        Ok(Some(correlation::judge(
            observed.max(0) as u64,
            baseline.expected_in(window),
        )))
    }

    /// Whether the site's traffic is silent now, over the shortest window
    /// its baseline allows; `None` when the site is too quiet or too new to
    /// tell, or when that window reaches back before `back_up` (its
    /// monitors were down then: real users could not come, whatever the
    /// pages hold).
    pub async fn recent_verdict(
        &self,
        store: &Store,
        site: &Site,
        now: Timestamp,
        back_up: Option<Timestamp>,
    ) -> Result<Option<TrafficVerdict>, StoreError> {
        let Some(window) = self
            .baseline(store, site, now)
            .await?
            .and_then(|baseline| baseline.silence_window())
        else {
            return Ok(None);
        };
        let from = now.minus(window);
        if back_up.is_some_and(|back_up| back_up > from) {
            return Ok(None);
        }
        self.verdict(store, site, from, now).await
    }

    /// The Core Web Vitals whose 75th percentile is poor for the site's
    /// real users over the last [`PERFORMANCE_WINDOW`].
    pub async fn poor_vitals(
        &self,
        store: &Store,
        site: &Site,
        now: Timestamp,
    ) -> Result<Vec<PoorVital>, StoreError> {
        let scope = Scope {
            from: now.minus(PERFORMANCE_WINDOW),
            to: now,
            filters: Vec::new(),
        };
        let cells = query::aggregate_cells(
            store,
            site.id,
            &scope,
            None,
            None,
            MetricSet::of(&WATCHED_VITALS),
        )
        .await?;
        let Some(aggregate) = cells.into_values().next() else {
            return Ok(Vec::new());
        };
        Ok(WATCHED_VITALS
            .into_iter()
            .filter_map(|metric| {
                let (_, poor) = metric.thresholds()?;
                let samples = aggregate.sketch(metric)?.count();
                let p75 = aggregate.percentile(metric, 75.0)?;
                (samples >= MIN_VITAL_SAMPLES && p75 > poor).then_some(PoorVital {
                    metric,
                    p75,
                    threshold: poor,
                    samples,
                })
            })
            .collect())
    }
}
