//! Incidents a status page opens by itself (`auto_incidents: true`): when
//! a monitor of one of its components is confirmed down, the page gets one
//! incident for that component, with a neutral text, mailed to its
//! followers; when none of the component's monitors is down any more, the
//! incident is resolved. A pass runs as often as the alerting engine's
//! (`alerting_every`). Any process may run a pass: an incident is keyed
//! by the component and the alerting incident that began its outage, so it
//! is opened once, and it is resolved once.

use crate::state::AppState;
use sightline_core::StatusPageSpec;
use sightline_core::Timestamp;
use sightline_core::status_page::IncidentState;
use sightline_store::{IncidentKind, NewStatusIncident, StoreError};
use std::collections::HashMap;

/// The prefix of the keys of a component's automatic incidents.
fn prefix(component_key: &str) -> String {
    format!("component/{component_key}/")
}

/// One pass over every page that opens incidents by itself.
pub(crate) async fn pass(state: &AppState) -> Result<(), StoreError> {
    let pages: Vec<_> = state
        .store
        .list_documents::<StatusPageSpec>()
        .await?
        .into_iter()
        .filter(|page| page.spec.auto_incidents)
        .collect();
    if pages.is_empty() {
        return Ok(());
    }
    let monitors: HashMap<String, i64> = state
        .store
        .list_monitors()
        .await?
        .into_iter()
        .map(|monitor| (monitor.spec.settings.name, monitor.id))
        .collect();
    // The open incidents of monitors confirmed down, by monitor.
    let mut down: HashMap<i64, i64> = HashMap::new();
    for incident in state
        .store
        .list_incidents(true, None, Timestamp::from(0), 100_000)
        .await?
    {
        if incident.kind == IncidentKind::MonitorDown
            && let Some(monitor) = incident.monitor_id
        {
            let first = down.entry(monitor).or_insert(incident.id);
            *first = (*first).min(incident.id);
        }
    }
    let since = state
        .store
        .now()
        .minus(std::time::Duration::from_secs(90 * 86_400));
    for page in pages {
        let written = state.store.status_incidents(page.id, since).await?;
        for (_, component) in page.spec.components() {
            let key = component.key();
            let open_auto: Vec<_> = written
                .iter()
                .filter(|incident| {
                    incident.resolved_at.is_none()
                        && incident
                            .auto_key
                            .as_deref()
                            .is_some_and(|auto| auto.starts_with(&prefix(&key)))
                })
                .collect();
            let began = component
                .monitors
                .iter()
                .filter_map(|name| down.get(monitors.get(name)?))
                .min()
                .copied();
            match (began, open_auto.is_empty()) {
                (Some(began), true) => {
                    let auto_key = format!("{}{began}", prefix(&key));
                    let components = vec![component.name.clone()];
                    let created = state
                        .store
                        .create_status_incident(&NewStatusIncident {
                            page_id: page.id,
                            title: &format!("{} is unavailable", component.name),
                            components: &components,
                            auto_key: Some(&auto_key),
                            state: IncidentState::Investigating,
                            message: &format!(
                                "Our checks find {} unavailable. We are looking into it.",
                                component.name
                            ),
                            author: None,
                        })
                        .await?;
                    if let Some(incident) = created {
                        state.status_pages.forget();
                        if let Err(error) =
                            super::subscriptions::announce(state, &page, &incident).await
                        {
                            tracing::warn!(%error, "mailing an automatic incident");
                        }
                    }
                }
                (None, false) => {
                    for incident in open_auto {
                        let resolved = state
                            .store
                            .resolve_status_incident_once(
                                incident.id,
                                &format!("{} is available again.", component.name),
                            )
                            .await?;
                        if let Some(incident) = resolved {
                            state.status_pages.forget();
                            if let Err(error) =
                                super::subscriptions::announce(state, &page, &incident).await
                            {
                                tracing::warn!(%error, "mailing an automatic incident's end");
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}
