//! What a public status page shows, gathered from the store: each
//! component's state and 90 days of history, the incidents people wrote,
//! scheduled maintenance, and what real users see. Everything here is
//! public by construction: components are known by their public names, and
//! nothing of a monitor (its name, URL, errors, checkpoints) is copied in.

use serde::Serialize;
use sightline_alerting::traffic::TrafficWatch;
use sightline_core::rum::{Metric, MetricSet, Rating};
use sightline_core::status_page::{Component, IncidentState};
use sightline_core::{MaintenanceWindowSpec, Timestamp};
use sightline_rum::query::{self, Scope};
use sightline_store::{
    MaintenanceWindow, Monitor, Site, StatusIncident, StatusPage, Store, StoreError,
};
use std::collections::HashMap;
use std::time::Duration;

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;
/// How many days the bars show.
pub(crate) const DAYS: i64 = 90;
/// How far ahead maintenance is announced.
const MAINTENANCE_AHEAD_MS: i64 = 14 * DAY_MS;
/// Real users' vitals are read over this window.
const VITALS_WINDOW: Duration = Duration::from_secs(3600);
/// Fewer LCP samples than this make no rating.
const MIN_LCP_SAMPLES: u64 = 20;

/// A component's (or the page's) state, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum State {
    /// Nothing to show yet.
    NoData,
    /// All is well.
    Operational,
    /// Maintenance is under way.
    Maintenance,
    /// Working, slowly.
    Degraded,
    /// Some of it is down.
    PartialOutage,
    /// All of it is down.
    MajorOutage,
}

impl State {
    /// In words, for a component.
    pub(crate) fn label(self) -> &'static str {
        match self {
            State::NoData => "No data",
            State::Operational => "Operational",
            State::Maintenance => "Under maintenance",
            State::Degraded => "Degraded performance",
            State::PartialOutage => "Partial outage",
            State::MajorOutage => "Major outage",
        }
    }

    /// In words, for the whole page.
    fn headline(self) -> &'static str {
        match self {
            State::NoData | State::Operational => "All systems operational",
            State::Maintenance => "Maintenance under way",
            State::Degraded => "Degraded performance",
            State::PartialOutage => "Partial outage",
            State::MajorOutage => "Major outage",
        }
    }
}

/// The page as its readers see it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicPage {
    pub(crate) slug: String,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) has_logo: bool,
    pub(crate) state: State,
    pub(crate) headline: &'static str,
    pub(crate) groups: Vec<PublicGroup>,
    pub(crate) active_incidents: Vec<PublicIncident>,
    pub(crate) past_incidents: Vec<PublicIncident>,
    pub(crate) maintenance: Vec<PublicMaintenance>,
    /// RFC 3339: when this view was made.
    pub(crate) generated_at: String,
    /// The same, in words.
    pub(crate) generated_text: String,
    /// The day each bar stands for, oldest first (`2026-12-04`).
    pub(crate) first_day: String,
}

/// A group of components.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicGroup {
    pub(crate) name: String,
    pub(crate) components: Vec<PublicComponent>,
}

/// A component's state and history.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicComponent {
    pub(crate) name: String,
    pub(crate) key: String,
    pub(crate) state: State,
    pub(crate) state_label: &'static str,
    /// Uptime over the days shown, in percent (monitors only).
    pub(crate) uptime: Option<f64>,
    /// The same, as shown (`99.98 %`).
    pub(crate) uptime_text: Option<String>,
    pub(crate) days: Vec<PublicDay>,
    pub(crate) real_users: Option<RealUsers>,
}

/// One day of a component's bar.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicDay {
    /// `2026-12-04`.
    pub(crate) date: String,
    /// `ok`, `minor`, `major` or `none` (no data).
    pub(crate) level: &'static str,
    /// What hovering or focusing the day says.
    pub(crate) text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) uptime: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) page_views: Option<u64>,
}

/// What real users see of a site's pages.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RealUsers {
    /// Page views in the last 5 minutes.
    pub(crate) page_views: u64,
    /// What the baseline expects in 5 minutes, when it knows.
    pub(crate) expected_low: Option<u64>,
    pub(crate) expected_high: Option<u64>,
    /// The 75th percentile of largest contentful paint in the last hour.
    pub(crate) lcp_p75_ms: Option<f64>,
    /// `good`, `needs-improvement` or `poor`.
    pub(crate) lcp_rating: Option<&'static str>,
    /// The same in words.
    pub(crate) summary: String,
    pub(crate) lcp_text: String,
}

/// A written incident.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicIncident {
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) state: IncidentState,
    pub(crate) state_label: &'static str,
    pub(crate) components: Vec<String>,
    pub(crate) created_at: String,
    pub(crate) created_text: String,
    pub(crate) updated_at: String,
    pub(crate) resolved_at: Option<String>,
    pub(crate) updates: Vec<PublicUpdate>,
}

/// One update of a written incident (its author is not shown).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicUpdate {
    pub(crate) state: IncidentState,
    pub(crate) state_label: &'static str,
    pub(crate) message: String,
    pub(crate) at: String,
    pub(crate) at_text: String,
}

/// Maintenance under way or to come (the window's own name is not shown).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PublicMaintenance {
    pub(crate) starts_at: String,
    pub(crate) ends_at: String,
    pub(crate) text: String,
    pub(crate) active: bool,
    pub(crate) components: Vec<String>,
}

/// `4 Dec 2026`.
pub(crate) fn day_text(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map(|time| time.format("%-d %b %Y").to_string())
        .unwrap_or_default()
}

/// `4 Dec 2026, 14:05 UTC`.
pub(crate) fn time_text(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map(|time| time.format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn iso_day(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map(|time| time.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn minutes_text(ms: i64) -> String {
    let minutes = (ms + 59_999) / 60_000;
    if minutes < 60 {
        format!("{minutes} min")
    } else {
        format!("{} h {} min", minutes / 60, minutes % 60)
    }
}

/// What the world holds that the page is made from, read once.
pub(crate) struct World {
    pub(crate) monitors: Vec<Monitor>,
    pub(crate) sites: Vec<Site>,
    pub(crate) windows: Vec<MaintenanceWindow>,
}

impl World {
    /// Reads the monitors, sites and maintenance windows.
    pub(crate) async fn read(store: &Store) -> Result<World, StoreError> {
        Ok(World {
            monitors: store.list_monitors().await?,
            sites: store.list_sites().await?,
            windows: store.list_maintenance_windows().await?,
        })
    }

    fn monitors_of<'a>(&'a self, component: &Component) -> Vec<&'a Monitor> {
        self.monitors
            .iter()
            .filter(|monitor| {
                monitor.spec.settings.enabled
                    && component.monitors.contains(&monitor.spec.settings.name)
            })
            .collect()
    }

    fn in_maintenance(&self, monitor: &Monitor, at: Timestamp) -> bool {
        self.windows.iter().any(|window| {
            window
                .spec
                .applies_to(&monitor.spec.settings.name, &monitor.spec.settings.tags)
                && window.spec.covers(at)
        })
    }
}

/// Builds the page as its readers see it now.
pub(crate) async fn gather(
    store: &Store,
    traffic: &TrafficWatch,
    page: &StatusPage,
    world: &World,
) -> Result<PublicPage, StoreError> {
    let now = store.now();
    let today = now.as_millis().div_euclid(DAY_MS) * DAY_MS;
    let first_day = today - (DAYS - 1) * DAY_MS;
    let spec = &page.spec;
    let incidents = store
        .status_incidents(page.id, Timestamp::from(first_day))
        .await?;

    let monitor_ids: Vec<i64> = spec
        .components()
        .flat_map(|(_, component)| world.monitors_of(component))
        .map(|monitor| monitor.id)
        .collect();
    let days = store
        .monitor_days(
            &monitor_ids,
            Timestamp::from(first_day),
            Timestamp::from(today + DAY_MS),
        )
        .await?;
    let outages = store
        .outage_spans(&monitor_ids, Timestamp::from(first_day), now)
        .await?;
    let mut by_monitor_day: HashMap<(i64, i64), sightline_store::UptimeCounts> = HashMap::new();
    for day in days {
        by_monitor_day.insert((day.monitor_id, day.day.as_millis()), day.counts);
    }
    // Today's summary lags the results rolled into it: today is counted
    // from the summaries and the results not rolled yet.
    for id in &monitor_ids {
        let totals = store.check_totals(*id, Timestamp::from(today), now).await?;
        by_monitor_day.insert((*id, today), totals.counts);
    }

    let mut groups = Vec::new();
    for group in &spec.groups {
        let mut components = Vec::new();
        for component in &group.components {
            let titles = |day: i64| -> Vec<String> {
                incidents
                    .iter()
                    .filter(|incident| {
                        incident.components.contains(&component.name)
                            && incident.created_at.as_millis() < day + DAY_MS
                            && incident
                                .resolved_at
                                .is_none_or(|resolved| resolved.as_millis() >= day)
                    })
                    .map(|incident| incident.title.clone())
                    .collect()
            };
            let built = match &component.site {
                Some(site_name) => {
                    let site = world.sites.iter().find(|site| site.spec.name == *site_name);
                    site_component(
                        store, traffic, world, component, site, first_day, now, &titles,
                    )
                    .await?
                }
                None => monitor_component(
                    world,
                    component,
                    &by_monitor_day,
                    &outages,
                    first_day,
                    now,
                    &titles,
                ),
            };
            components.push(built);
        }
        groups.push(PublicGroup {
            name: group.name.clone(),
            components,
        });
    }
    let state = overall(
        groups
            .iter()
            .flat_map(|group| &group.components)
            .map(|component| component.state),
    );
    let (active, past): (Vec<&StatusIncident>, Vec<&StatusIncident>) = incidents
        .iter()
        .partition(|incident| incident.resolved_at.is_none());
    Ok(PublicPage {
        slug: spec.slug.clone(),
        title: spec.title.clone(),
        description: spec.description.clone(),
        has_logo: spec.logo.is_some(),
        state,
        headline: state.headline(),
        groups,
        active_incidents: active.into_iter().map(public_incident).collect(),
        past_incidents: past.into_iter().map(public_incident).collect(),
        maintenance: maintenance(spec, world, now),
        generated_at: now.to_rfc3339(),
        generated_text: time_text(now),
        first_day: iso_day(Timestamp::from(first_day)),
    })
}

/// The page's state: a major outage only when every component with data
/// is down; one component down of several is a partial outage.
fn overall(states: impl Iterator<Item = State>) -> State {
    let states: Vec<State> = states.filter(|state| *state != State::NoData).collect();
    let worst = states.iter().copied().max().unwrap_or(State::NoData);
    if worst == State::MajorOutage && states.iter().any(|state| *state != State::MajorOutage) {
        State::PartialOutage
    } else {
        worst
    }
}

fn monitor_component(
    world: &World,
    component: &Component,
    by_monitor_day: &HashMap<(i64, i64), sightline_store::UptimeCounts>,
    outages: &[sightline_store::OutageSpan],
    first_day: i64,
    now: Timestamp,
    titles: &(dyn Fn(i64) -> Vec<String> + Sync),
) -> PublicComponent {
    let monitors = world.monitors_of(component);
    let down = monitors.iter().filter(|m| m.status == "down").count();
    let state = if monitors.is_empty() {
        State::NoData
    } else if down == monitors.len() {
        State::MajorOutage
    } else if down > 0 {
        State::PartialOutage
    } else if monitors.iter().any(|m| world.in_maintenance(m, now)) {
        State::Maintenance
    } else if monitors.iter().any(|m| m.status == "degraded") {
        State::Degraded
    } else if monitors.iter().any(|m| m.status == "up") {
        State::Operational
    } else {
        State::NoData
    };
    let ids: Vec<i64> = monitors.iter().map(|m| m.id).collect();
    let mut total = sightline_store::UptimeCounts::default();
    let mut days = Vec::with_capacity(DAYS as usize);
    for index in 0..DAYS {
        let day = first_day + index * DAY_MS;
        let mut counts = sightline_store::UptimeCounts::default();
        for id in &ids {
            if let Some(found) = by_monitor_day.get(&(*id, day)) {
                counts.add(*found);
            }
        }
        total.add(counts);
        let down_ms = union_ms(outages, &ids, day, (day + DAY_MS).min(now.as_millis()), now);
        let uptime = counts.uptime_percent();
        let level = match uptime {
            None if down_ms == 0 => "none",
            _ if down_ms == 0 && counts.confirmed_errors == 0 => "ok",
            _ if down_ms < 30 * 60_000 && uptime.is_none_or(|u| u >= 99.0) => "minor",
            _ => "major",
        };
        let mut text = day_text(Timestamp::from(day));
        match uptime {
            Some(uptime) => text.push_str(&format!(" · {} up", percent_text(uptime))),
            None => text.push_str(" · no data"),
        }
        if down_ms > 0 {
            text.push_str(&format!(" · down {}", minutes_text(down_ms)));
        }
        for title in titles(day) {
            text.push_str(&format!(" · {title}"));
        }
        days.push(PublicDay {
            date: iso_day(Timestamp::from(day)),
            level,
            text,
            uptime,
            page_views: None,
        });
    }
    let uptime = total.uptime_percent();
    PublicComponent {
        name: component.name.clone(),
        key: component.key(),
        state,
        state_label: state.label(),
        uptime,
        uptime_text: uptime.map(percent_text),
        days,
        real_users: None,
    }
}

/// `99.98 %`: two decimals, never rounded up to 100 while anything failed.
fn percent_text(percent: f64) -> String {
    let floored = (percent * 100.0).floor() / 100.0;
    if floored >= 100.0 {
        "100 %".to_owned()
    } else {
        format!("{floored:.2} %")
    }
}

/// How long in `[from, to)` at least one of `ids` was down.
fn union_ms(
    outages: &[sightline_store::OutageSpan],
    ids: &[i64],
    from: i64,
    to: i64,
    now: Timestamp,
) -> i64 {
    let mut spans: Vec<(i64, i64)> = outages
        .iter()
        .filter(|outage| ids.contains(&outage.monitor_id))
        .map(|outage| {
            (
                outage.started_at.as_millis().max(from),
                outage.ended_at.unwrap_or(now).as_millis().min(to),
            )
        })
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort_unstable();
    let (mut total, mut reached) = (0, i64::MIN);
    for (start, end) in spans {
        let start = start.max(reached);
        if end > start {
            total += end - start;
            reached = end;
        }
    }
    total
}

#[allow(clippy::too_many_arguments)]
async fn site_component(
    store: &Store,
    traffic: &TrafficWatch,
    world: &World,
    component: &Component,
    site: Option<&Site>,
    first_day: i64,
    now: Timestamp,
    titles: &(dyn Fn(i64) -> Vec<String> + Sync),
) -> Result<PublicComponent, StoreError> {
    let empty = || PublicComponent {
        name: component.name.clone(),
        key: component.key(),
        state: State::NoData,
        state_label: State::NoData.label(),
        uptime: None,
        uptime_text: None,
        days: Vec::new(),
        real_users: None,
    };
    let Some(site) = site else {
        return Ok(empty());
    };
    let five_minutes = Duration::from_secs(300);
    let page_views = store
        .count_page_views(site.id, now.minus(five_minutes), now)
        .await?
        .max(0) as u64;
    let watch = traffic.watching(store, site, now).await?;
    let lcp = MetricSet::of(&[Metric::Lcp]);
    let recent = query::aggregate_cells(
        store,
        site.id,
        &Scope {
            from: now.minus(VITALS_WINDOW),
            to: now,
            filters: Vec::new(),
        },
        None,
        None,
        lcp,
    )
    .await?;
    let p75 = recent.values().next().and_then(|aggregate| {
        let samples = aggregate.sketch(Metric::Lcp)?.count();
        (samples >= MIN_LCP_SAMPLES)
            .then(|| aggregate.percentile(Metric::Lcp, 75.0))
            .flatten()
    });
    let rating = p75.and_then(|p75| Metric::Lcp.rate(p75));
    let daily = query::aggregate_cells(
        store,
        site.id,
        &Scope {
            from: Timestamp::from(first_day),
            to: now,
            filters: Vec::new(),
        },
        Some(DAY_MS),
        None,
        lcp,
    )
    .await?;
    let mut days = Vec::with_capacity(DAYS as usize);
    for index in 0..DAYS {
        let day = first_day + index * DAY_MS;
        let aggregate = daily.get(&(day, String::new()));
        let views = aggregate.map_or(0, |aggregate| aggregate.page_views());
        let day_p75 = aggregate.and_then(|aggregate| aggregate.percentile(Metric::Lcp, 75.0));
        let level = match day_p75.and_then(|p75| Metric::Lcp.rate(p75)) {
            _ if views == 0 => "none",
            Some(Rating::Good) | None => "ok",
            Some(Rating::NeedsImprovement) => "minor",
            Some(Rating::Poor) => "major",
        };
        let mut text = day_text(Timestamp::from(day));
        if views == 0 {
            text.push_str(" · no page views");
        } else {
            text.push_str(&format!(" · {} page views", thousands(views)));
            if let Some(p75) = day_p75 {
                text.push_str(&format!(" · LCP p75 {}", seconds_text(p75)));
            }
        }
        for title in titles(day) {
            text.push_str(&format!(" · {title}"));
        }
        days.push(PublicDay {
            date: iso_day(Timestamp::from(day)),
            level,
            text,
            uptime: None,
            page_views: Some(views),
        });
    }
    // The site's own monitors say whether it is reachable; its real users
    // whether it is fast.
    let linked: Vec<&Monitor> = world
        .monitors
        .iter()
        .filter(|m| m.site_id == Some(site.id) && m.spec.settings.enabled)
        .collect();
    let down = linked.iter().filter(|m| m.status == "down").count();
    let state = if down > 0 && down == linked.len() {
        State::MajorOutage
    } else if down > 0 {
        State::PartialOutage
    } else if rating == Some(Rating::Poor) {
        State::Degraded
    } else if page_views > 0 || watch.expects.is_some() {
        State::Operational
    } else {
        State::NoData
    };
    let expects = watch.expects;
    let summary = match expects {
        Some(expects) => format!(
            "{} page views in the last 5 min (usually {}–{})",
            thousands(page_views),
            thousands(expects.low),
            thousands(expects.high)
        ),
        None => format!("{} page views in the last 5 min", thousands(page_views)),
    };
    let (lcp_rating, lcp_text) = match (p75, rating) {
        (Some(p75), Some(rating)) => {
            let (code, words) = match rating {
                Rating::Good => ("good", "good"),
                Rating::NeedsImprovement => ("needs-improvement", "needs improvement"),
                Rating::Poor => ("poor", "poor"),
            };
            (
                Some(code),
                format!(
                    "Pages load in {} for 3 in 4 visitors: {words}",
                    seconds_text(p75)
                ),
            )
        }
        _ => (None, "Too few recent visits to rate loading".to_owned()),
    };
    Ok(PublicComponent {
        state,
        state_label: state.label(),
        days,
        real_users: Some(RealUsers {
            page_views,
            expected_low: expects.map(|e| e.low),
            expected_high: expects.map(|e| e.high),
            lcp_p75_ms: p75,
            lcp_rating,
            summary,
            lcp_text,
        }),
        ..empty()
    })
}

/// `12,345`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `1.9 s`, or `850 ms`.
fn seconds_text(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

fn public_incident(incident: &StatusIncident) -> PublicIncident {
    let state = incident.state();
    let mut updates: Vec<PublicUpdate> = incident
        .updates
        .iter()
        .map(|update| PublicUpdate {
            state: update.state,
            state_label: update.state.label(),
            message: update.message.clone(),
            at: update.at.to_rfc3339(),
            at_text: time_text(update.at),
        })
        .collect();
    updates.reverse();
    PublicIncident {
        id: incident.id,
        title: incident.title.clone(),
        state,
        state_label: state.label(),
        components: incident.components.clone(),
        created_at: incident.created_at.to_rfc3339(),
        created_text: time_text(incident.created_at),
        updated_at: incident.updated_at.to_rfc3339(),
        resolved_at: incident.resolved_at.map(|at| at.to_rfc3339()),
        updates,
    }
}

/// Maintenance under way or to come within two weeks, for the page's
/// components (a window that covers none of them is not the page's).
fn maintenance(
    spec: &sightline_core::StatusPageSpec,
    world: &World,
    now: Timestamp,
) -> Vec<PublicMaintenance> {
    let mut announced: Vec<(i64, PublicMaintenance)> = Vec::new();
    for window in &world.windows {
        let Some((starts, ends)) = window.spec.current_or_next(now) else {
            continue;
        };
        if starts.as_millis() > now.as_millis() + MAINTENANCE_AHEAD_MS {
            continue;
        }
        let components: Vec<String> = spec
            .components()
            .filter(|(_, component)| covers(&window.spec, world, component))
            .map(|(_, component)| component.name.clone())
            .collect();
        if components.is_empty() {
            continue;
        }
        let active = starts <= now;
        announced.push((
            starts.as_millis(),
            PublicMaintenance {
                starts_at: starts.to_rfc3339(),
                ends_at: ends.to_rfc3339(),
                text: format!("{} to {}", time_text(starts), time_text(ends)),
                active,
                components,
            },
        ));
    }
    announced.sort_by_key(|(starts, _)| *starts);
    announced.into_iter().map(|(_, m)| m).collect()
}

fn covers(window: &MaintenanceWindowSpec, world: &World, component: &Component) -> bool {
    let monitors: Vec<&Monitor> = match &component.site {
        Some(site) => {
            let site_id = world
                .sites
                .iter()
                .find(|s| s.spec.name == *site)
                .map(|s| s.id);
            world
                .monitors
                .iter()
                .filter(|m| site_id.is_some() && m.site_id == site_id)
                .collect()
        }
        None => world.monitors_of(component),
    };
    monitors
        .iter()
        .any(|m| window.applies_to(&m.spec.settings.name, &m.spec.settings.tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_outages_count_once() {
        let span = |monitor_id, start, end: Option<i64>| sightline_store::OutageSpan {
            monitor_id,
            started_at: Timestamp::from(start),
            ended_at: end.map(Timestamp::from),
        };
        let outages = [
            span(1, 100, Some(300)),
            span(2, 200, Some(400)),
            span(3, 0, Some(1000)),
            span(1, 900, None),
        ];
        let now = Timestamp::from(1000);
        assert_eq!(union_ms(&outages, &[1, 2], 0, 1000, now), 400);
        assert_eq!(union_ms(&outages, &[1, 2], 250, 950, now), 200);
        assert_eq!(union_ms(&outages, &[4], 0, 1000, now), 0);
    }

    #[test]
    fn one_component_down_of_several_is_a_partial_outage() {
        use State::*;
        assert_eq!(
            overall([Operational, MajorOutage].into_iter()),
            PartialOutage
        );
        assert_eq!(overall([MajorOutage, NoData].into_iter()), MajorOutage);
        assert_eq!(overall([Operational, Degraded].into_iter()), Degraded);
        assert_eq!(overall([NoData].into_iter()), NoData);
        assert_eq!(overall([Operational, Maintenance].into_iter()), Maintenance);
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(percent_text(99.999), "99.99 %");
        assert_eq!(percent_text(100.0), "100 %");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(seconds_text(1940.0), "1.9 s");
        assert_eq!(minutes_text(61_000), "2 min");
        assert_eq!(minutes_text(3_600_000 * 2 + 60_000 * 5), "2 h 5 min");
        assert_eq!(day_text(Timestamp::from(0)), "1 Jan 1970");
    }
}
