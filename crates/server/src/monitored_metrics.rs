//! The metrics of what is monitored, for people who keep their dashboards
//! in Grafana: each monitor's status, check durations by phase and
//! certificate expiry; each site's page views and the p75 of its Core Web
//! Vitals; the outbox's depth and deliveries by channel.
//!
//! Labels are `monitor="<name>"`, `site="<name>"`, a phase, a state or a
//! channel: bounded by what exists, never by what a request says. Counts
//! this process makes (durations, page views, deliveries) are kept by id and
//! named at each scrape from the monitors and sites that exist then, so a
//! deleted monitor's series disappear with it. Everything else is read from
//! the database at the scrape; scrapes waiting while a reading is under way
//! share the next one.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sightline_core::Timestamp;
use sightline_core::monitor::{CheckReport, CheckSpec};
use sightline_core::rum::Metric;
use sightline_store::{Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The span the RUM percentiles cover, ending at the scrape.
pub const RUM_WINDOW: Duration = Duration::from_secs(3600);

/// The states a monitor can be in, as the overview names them.
const STATES: [&str; 6] = ["up", "degraded", "down", "maintenance", "unknown", "paused"];

/// A check's phases, as `phase` labels, with the report's timing for each.
const PHASES: [&str; 6] = ["dns", "connect", "tls", "first_byte", "download", "total"];

fn phase_seconds(report: &CheckReport) -> [Option<f64>; 6] {
    let ms = |value: Option<i64>| value.map(|ms| ms.max(0) as f64 / 1000.0);
    let timings = &report.timings;
    [
        ms(timings.dns_ms),
        ms(timings.connect_ms),
        ms(timings.tls_ms),
        ms(timings.first_byte_ms),
        ms(timings.download_ms),
        ms(Some(report.duration_ms)),
    ]
}

/// One histogram per phase, made on the phase's first observation.
type PhaseHistograms = [std::sync::OnceLock<Histogram>; 6];

fn duration_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// What this process counted, by monitor or site id and channel.
#[derive(Debug, Default)]
pub struct Tallies {
    durations: RwLock<HashMap<i64, Arc<PhaseHistograms>>>,
    page_views: RwLock<HashMap<i64, AtomicU64>>,
    deliveries: Mutex<BTreeMap<(String, bool), u64>>,
}

impl Tallies {
    /// Counts one stored page view of site `site_id`: on the beacon's path,
    /// so one read lock and one atomic add.
    pub fn count_page_view(&self, site_id: i64) {
        if let Some(counter) = read(&self.page_views).get(&site_id) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        write(&self.page_views)
            .entry(site_id)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    fn page_views(&self) -> HashMap<i64, u64> {
        read(&self.page_views)
            .iter()
            .map(|(id, count)| (*id, count.load(Ordering::Relaxed)))
            .collect()
    }

    fn durations(&self) -> HashMap<i64, Arc<PhaseHistograms>> {
        read(&self.durations).clone()
    }

    fn deliveries(&self) -> BTreeMap<(String, bool), u64> {
        self.deliveries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Forgets the counts of monitors and sites the snapshot no longer has.
    fn keep_only(&self, snapshot: &Snapshot) {
        write(&self.durations).retain(|id, _| snapshot.monitors.contains_key(id));
        write(&self.page_views).retain(|id, _| snapshot.sites.contains_key(id));
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl sightline_synthetic::ResultTally for Tallies {
    fn stored(&self, monitor_id: i64, report: &CheckReport) {
        let counted = read(&self.durations).get(&monitor_id).cloned();
        let histograms = match counted {
            Some(histograms) => histograms,
            None => write(&self.durations)
                .entry(monitor_id)
                .or_default()
                .clone(),
        };
        for (histogram, seconds) in histograms.iter().zip(phase_seconds(report)) {
            if let Some(seconds) = seconds {
                histogram.get_or_init(duration_histogram).observe(seconds);
            }
        }
    }
}

impl sightline_alerting::DeliveryTally for Tallies {
    fn attempted(&self, channel: &str, sent: bool) {
        *self
            .deliveries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((channel.to_owned(), sent))
            .or_default() += 1;
    }
}

/// One monitor as the metrics show it.
#[derive(Debug, Clone)]
struct MonitorState {
    name: String,
    state: &'static str,
    certificate_expires_at: Option<Timestamp>,
}

/// One site as the metrics show it.
#[derive(Debug, Clone)]
struct SiteState {
    name: String,
    /// p75 of LCP and INP in seconds, and of CLS, over [`RUM_WINDOW`].
    lcp: Option<f64>,
    inp: Option<f64>,
    cls: Option<f64>,
}

/// What the database says, read at a scrape.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    monitors: BTreeMap<i64, MonitorState>,
    sites: BTreeMap<i64, SiteState>,
    outbox: Vec<(String, i64)>,
}

/// The metrics of what is monitored: the process's tallies and the latest
/// reading of the database.
#[derive(Debug, Default)]
pub struct MonitoredMetrics {
    tallies: Arc<Tallies>,
    snapshot: tokio::sync::Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

impl MonitoredMetrics {
    /// What the synthetic coordinator, the collector and the outbox count into.
    pub fn tallies(&self) -> Arc<Tallies> {
        self.tallies.clone()
    }

    /// Counts one stored page view of site `site_id`.
    pub fn count_page_view(&self, site_id: i64) {
        self.tallies.count_page_view(site_id);
    }

    /// The metrics in OpenMetrics text, without the closing `# EOF`.
    pub async fn render(&self, store: &Store) -> Result<String, StoreError> {
        let snapshot = self.snapshot(store).await?;
        self.tallies.keep_only(&snapshot);
        let mut registry = Registry::with_prefix("sightline");
        registry.register_collector(Box::new(Encoded {
            snapshot,
            durations: self.tallies.durations(),
            page_views: self.tallies.page_views(),
            deliveries: self.tallies.deliveries(),
        }));
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode_registry(&mut text, &registry)
        {
            tracing::error!(%error, "encoding the metrics of what is monitored");
        }
        Ok(text)
    }

    async fn snapshot(&self, store: &Store) -> Result<Arc<Snapshot>, StoreError> {
        let asked = Instant::now();
        // Held while reading. Scrapes arriving meanwhile wait; the first to
        // get it reads anew and the others take that reading, which began
        // after they asked: none sees a state older than its request, and a
        // crowd of scrapers costs two readings, not one each.
        let mut kept = self.snapshot.lock().await;
        if let Some((began, snapshot)) = kept.as_ref()
            && *began >= asked
        {
            return Ok(snapshot.clone());
        }
        let began = Instant::now();
        let snapshot = Arc::new(read_snapshot(store).await?);
        *kept = Some((began, snapshot.clone()));
        Ok(snapshot)
    }
}

async fn read_snapshot(store: &Store) -> Result<Snapshot, StoreError> {
    let now = store.now();
    let mut snapshot = Snapshot {
        outbox: store.pending_notifications().await?,
        ..Snapshot::default()
    };
    for monitor in store.list_monitors().await? {
        let state = STATES
            .into_iter()
            .find(|state| *state == monitor.shown_status())
            .unwrap_or("unknown");
        let presents_certificate = match &monitor.spec.check {
            CheckSpec::Tls(_) => true,
            CheckSpec::Http(http) => http.url.starts_with("https:"),
            _ => false,
        };
        let certificate_expires_at = if presents_certificate {
            let latest = store
                .check_results(
                    monitor.id,
                    now.minus(CERTIFICATE_LOOKBACK),
                    now.plus(HOUR),
                    1,
                )
                .await?;
            latest
                .first()
                .and_then(|stored| leaf_expiry(&stored.result.report.detail))
        } else {
            None
        };
        snapshot.monitors.insert(
            monitor.id,
            MonitorState {
                name: monitor.spec.settings.name,
                state,
                certificate_expires_at,
            },
        );
    }
    let scope = sightline_rum::query::Scope {
        from: now.minus(RUM_WINDOW),
        to: now,
        filters: Vec::new(),
    };
    for site in store.list_sites().await? {
        let total = sightline_rum::query::aggregate(store, site.id, &scope).await?;
        let p75 = |metric| total.percentile(metric, 75.0);
        snapshot.sites.insert(
            site.id,
            SiteState {
                name: site.spec.name,
                lcp: p75(Metric::Lcp).map(|ms| ms / 1000.0),
                inp: p75(Metric::Inp).map(|ms| ms / 1000.0),
                cls: p75(Metric::Cls),
            },
        );
    }
    Ok(snapshot)
}

const HOUR: Duration = Duration::from_secs(3600);

/// How far back a monitor's latest check is looked for to read its
/// certificate: beyond a weekly check, and few day partitions on
/// PostgreSQL.
const CERTIFICATE_LOOKBACK: Duration = Duration::from_secs(8 * 24 * 3600);

/// When the leaf certificate of a result's chain expires: a TLS check keeps
/// the chain as `chain`, an HTTPS check as `certificates`, leaf first.
fn leaf_expiry(detail: &serde_json::Value) -> Option<Timestamp> {
    let leaf = detail
        .get("chain")
        .or_else(|| detail.get("certificates"))?
        .get(0)?;
    let text = leaf.get("expires_at")?.as_str()?;
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(Timestamp::from_millis(at.timestamp_millis()))
}

/// A name as a label value in the exposition format: `\`, `"` and line
/// feeds escaped. The encoder writes values as given, and a monitor named
/// `a"} 1` would otherwise end its label early and make the whole scrape
/// unreadable to Prometheus.
fn label(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabel {
    monitor: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorStateLabels {
    monitor: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorPhaseLabels {
    monitor: String,
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SiteLabel {
    site: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    outcome: &'static str,
}

/// One scrape's worth, encoded as the registry asks.
#[derive(Debug)]
struct Encoded {
    snapshot: Arc<Snapshot>,
    durations: HashMap<i64, Arc<PhaseHistograms>>,
    page_views: HashMap<i64, u64>,
    deliveries: BTreeMap<(String, bool), u64>,
}

/// Encodes one gauge family from `(labels, value)` pairs.
fn gauges<L: EncodeLabelSet, V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// Encodes one counter family from `(labels, value)` pairs.
fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        family
            .encode_family(&labels)?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

impl Collector for Encoded {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let monitors = &self.snapshot.monitors;
        let sites = &self.snapshot.sites;
        let monitor = |name: &String| MonitorLabel {
            monitor: label(name),
        };
        gauges(
            &mut encoder,
            "monitor_up",
            "1 while the monitor is up or degraded, 0 while it is down; absent while paused, \
             in maintenance or not checked yet",
            monitors.values().filter_map(|m| match m.state {
                "up" | "degraded" => Some((monitor(&m.name), 1i64)),
                "down" => Some((monitor(&m.name), 0)),
                _ => None,
            }),
        )?;
        gauges(
            &mut encoder,
            "monitor_status",
            "1 for the state the monitor is in, 0 for the others",
            monitors.values().flat_map(|m| {
                STATES.into_iter().map(|state| {
                    (
                        MonitorStateLabels {
                            monitor: label(&m.name),
                            state,
                        },
                        i64::from(m.state == state),
                    )
                })
            }),
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "check_duration_seconds",
                "Time each phase of the checks this process stored took (total: the whole check)",
                None,
                MetricType::Histogram,
            )?;
            for (id, m) in monitors {
                let Some(histograms) = self.durations.get(id) else {
                    continue;
                };
                // A phase a monitor's checks never have (TLS over plain
                // HTTP, DNS for an address) has no series.
                for (phase, histogram) in PHASES.into_iter().zip(histograms.iter()) {
                    let Some(histogram) = histogram.get() else {
                        continue;
                    };
                    let labels = MonitorPhaseLabels {
                        monitor: label(&m.name),
                        phase,
                    };
                    histogram.encode(family.encode_family(&labels)?)?;
                }
            }
        }
        gauges(
            &mut encoder,
            "tls_certificate_expiry_timestamp_seconds",
            "When the certificate the monitor's latest check (of the last 8 days) was shown expires \
             (Unix seconds)",
            monitors.values().filter_map(|m| {
                let at = m.certificate_expires_at?;
                Some((monitor(&m.name), at.as_millis() as f64 / 1000.0))
            }),
        )?;
        let site = |name: &String| SiteLabel { site: label(name) };
        counters(
            &mut encoder,
            "rum_page_views",
            "Page views this process stored, by site",
            sites
                .iter()
                .map(|(id, s)| (site(&s.name), self.page_views.get(id).copied().unwrap_or(0))),
        )?;
        for (name, help, value) in [
            (
                "rum_lcp_p75_seconds",
                "p75 of Largest Contentful Paint over the last hour's page views",
                (|s: &SiteState| s.lcp) as fn(&SiteState) -> Option<f64>,
            ),
            (
                "rum_inp_p75_seconds",
                "p75 of Interaction to Next Paint over the last hour's page views",
                |s: &SiteState| s.inp,
            ),
            (
                "rum_cls_p75",
                "p75 of Cumulative Layout Shift over the last hour's page views",
                |s: &SiteState| s.cls,
            ),
        ] {
            gauges(
                &mut encoder,
                name,
                help,
                sites
                    .values()
                    .filter_map(|s| Some((site(&s.name), value(s)?))),
            )?;
        }
        gauges(
            &mut encoder,
            "outbox_depth",
            "Notifications waiting to be sent, by channel",
            self.snapshot.outbox.iter().map(|(channel, count)| {
                (
                    ChannelLabel {
                        channel: label(channel),
                    },
                    *count,
                )
            }),
        )?;
        counters(
            &mut encoder,
            "notifications",
            "Delivery attempts this process made, by channel and outcome (sent or failed)",
            self.deliveries.iter().map(|((channel, sent), count)| {
                (
                    DeliveryLabels {
                        channel: label(channel),
                        outcome: if *sent { "sent" } else { "failed" },
                    },
                    *count,
                )
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_escaped_as_label_values() {
        assert_eq!(label("shop home"), "shop home");
        assert_eq!(label(r#"say "hi" \ twice"#), r#"say \"hi\" \\ twice"#);
        assert_eq!(label("a\nb"), r"a\nb");
    }

    #[test]
    fn the_leaf_certificate_is_read_from_either_check() {
        let tls = json!({"chain": [{"expires_at": "2027-03-01T00:00:00.000Z"}, {"expires_at": "2030-01-01T00:00:00Z"}]});
        let https = json!({"certificates": [{"expires_at": "2027-03-01T00:00:00Z"}]});
        let expected = Timestamp::from_millis(1_803_859_200_000);
        assert_eq!(leaf_expiry(&tls), Some(expected));
        assert_eq!(leaf_expiry(&https), Some(expected));
        assert_eq!(leaf_expiry(&json!({"chain": [{"problem": "x"}]})), None);
        assert_eq!(leaf_expiry(&json!({})), None);
    }
}
