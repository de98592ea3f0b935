//! Public status pages, answered from snapshots so that an outage's crowd
//! never reaches the database: the pages' directory (slugs and domains)
//! and each page's rendered answers are rebuilt at most once per refresh
//! interval, by one request while the others are answered from the last
//! snapshot.

pub(crate) mod auto_incidents;
pub(crate) mod model;
pub(crate) mod render;
pub(crate) mod subscriptions;

use crate::assets::CompressedAsset;
use crate::state::AppState;
use hmac::{Hmac, Mac};
use model::World;
use sha2::{Digest, Sha256};
use sightline_core::StatusPageSpec;
use sightline_core::status_page::Logo;
use sightline_store::{StatusPage, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Password attempts a private page takes a minute, from everyone.
const PASSWORD_TRIES_PER_MINUTE: u32 = 20;
/// Subscriptions a page takes a minute, from everyone.
const SUBSCRIPTIONS_PER_MINUTE: u32 = 30;

/// The snapshots of every status page this process has been asked for.
pub struct StatusBoard {
    refresh: Duration,
    traffic: sightline_alerting::traffic::TrafficWatch,
    access_key: Hmac<Sha256>,
    directory: RwLock<Option<Arc<Directory>>>,
    directory_building: tokio::sync::Mutex<()>,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    /// Password attempts per page: a guesser gets a few a minute.
    password_tries: governor::DefaultKeyedRateLimiter<String>,
    /// Subscriptions asked for per page.
    subscriptions: governor::DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusBoard")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// Every page by slug, and the slug of every page's own domain.
struct Directory {
    built: Instant,
    pages: HashMap<String, StatusPage>,
    domains: HashMap<String, String>,
}

#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<Snapshot>>>,
    building: Arc<tokio::sync::Mutex<()>>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok()?.clone()
    }
}

/// Who may see a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Anyone.
    Public,
    /// Whoever types the password (its SHA-256).
    Password([u8; 32]),
    /// Whoever gives the token (its SHA-256).
    Token([u8; 32]),
    /// Nobody: its secret is not in the vault (or the vault is closed).
    Closed,
}

/// A page's answers as of one moment.
pub(crate) struct Snapshot {
    built: Instant,
    /// The page at `/status/{slug}`.
    pub(crate) html: CompressedAsset,
    /// The page on its own domain (addresses from `/`).
    pub(crate) html_own_domain: Option<CompressedAsset>,
    /// `status.json`.
    pub(crate) json: CompressedAsset,
    /// `feed.atom`.
    pub(crate) feed: CompressedAsset,
    /// Per component key: its state badge and its uptime badge.
    pub(crate) badges: HashMap<String, (CompressedAsset, CompressedAsset)>,
    /// The logo.
    pub(crate) logo: Option<Logo>,
    /// Who may see it.
    pub(crate) access: Access,
    /// When what it shows last changed, for `Last-Modified`.
    pub(crate) changed_at: std::time::SystemTime,
}

impl StatusBoard {
    /// A board that rebuilds a page at most once per `refresh`; `access_key`
    /// signs the cookies of visitors who typed a private page's password.
    pub fn new(refresh: Duration, access_key: &[u8]) -> Self {
        StatusBoard {
            refresh,
            traffic: Default::default(),
            access_key: Hmac::new_from_slice(access_key).expect("HMAC takes a key of any length"),
            directory: RwLock::new(None),
            directory_building: tokio::sync::Mutex::new(()),
            slots: RwLock::new(HashMap::new()),
            password_tries: per_minute(PASSWORD_TRIES_PER_MINUTE),
            subscriptions: per_minute(SUBSCRIPTIONS_PER_MINUTE),
        }
    }

    /// How long a snapshot stands.
    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    fn current_directory(&self) -> Option<Arc<Directory>> {
        self.directory.read().ok()?.clone()
    }

    /// The directory, rebuilt when it is older than the refresh interval
    /// (by one caller; the others use the last one meanwhile).
    async fn directory(&self, state: &AppState) -> Result<Arc<Directory>, StoreError> {
        if let Some(directory) = self.current_directory() {
            if directory.built.elapsed() < self.refresh {
                return Ok(directory);
            }
            let Ok(_building) = self.directory_building.try_lock() else {
                return Ok(directory);
            };
            return self.rebuild_directory(state).await;
        }
        let _building = self.directory_building.lock().await;
        if let Some(directory) = self.current_directory()
            && directory.built.elapsed() < self.refresh
        {
            return Ok(directory);
        }
        self.rebuild_directory(state).await
    }

    async fn rebuild_directory(&self, state: &AppState) -> Result<Arc<Directory>, StoreError> {
        let pages = state.store.list_documents::<StatusPageSpec>().await?;
        let domains = pages
            .iter()
            .filter_map(|page| Some((page.spec.domain.clone()?, page.spec.slug.clone())))
            .collect();
        let pages: HashMap<String, StatusPage> = pages
            .into_iter()
            .map(|page| (page.spec.slug.clone(), page))
            .collect();
        if let Ok(mut slots) = self.slots.write() {
            slots.retain(|slug, _| pages.contains_key(slug));
        }
        let directory = Arc::new(Directory {
            built: Instant::now(),
            pages,
            domains,
        });
        if let Ok(mut current) = self.directory.write() {
            *current = Some(directory.clone());
        }
        Ok(directory)
    }

    /// The slug of the page whose own domain `host` is.
    pub(crate) async fn slug_of_domain(&self, state: &AppState, host: &str) -> Option<String> {
        let directory = self.directory(state).await.ok()?;
        directory.domains.get(host).cloned()
    }

    /// The page with this slug, from the directory (no database read while
    /// it is fresh).
    pub(crate) async fn page(
        &self,
        state: &AppState,
        slug: &str,
    ) -> Result<Option<StatusPage>, StoreError> {
        Ok(self.directory(state).await?.pages.get(slug).cloned())
    }

    /// Drops what this process holds of the pages, so that a change made
    /// through it shows at once.
    pub(crate) fn forget(&self) {
        if let Ok(mut directory) = self.directory.write() {
            *directory = None;
        }
        if let Ok(mut slots) = self.slots.write() {
            slots.clear();
        }
    }

    /// The page's snapshot: `None` when there is no such page.
    pub(crate) async fn snapshot(
        &self,
        state: &AppState,
        slug: &str,
    ) -> Result<Option<Arc<Snapshot>>, StoreError> {
        let directory = self.directory(state).await?;
        let Some(page) = directory.pages.get(slug) else {
            return Ok(None);
        };
        let slot = {
            let existing = self.slots.read().ok().and_then(|s| s.get(slug).cloned());
            match existing {
                Some(slot) => slot,
                None => match self.slots.write() {
                    Ok(mut slots) => slots.entry(slug.to_owned()).or_default().clone(),
                    Err(_) => Arc::default(),
                },
            }
        };
        if let Some(snapshot) = slot.current() {
            if snapshot.built.elapsed() < self.refresh {
                return Ok(Some(snapshot));
            }
            // Stale: one request rebuilds it in the background; this one
            // and the others meanwhile get the last one.
            if let Ok(building) = slot.building.clone().try_lock_owned() {
                let (state, page, slot) = (state.clone(), page.clone(), slot.clone());
                tokio::spawn(async move {
                    let previous = slot.current();
                    match build(&state, &page, previous.as_deref()).await {
                        Ok(snapshot) => {
                            if let Ok(mut current) = slot.current.write() {
                                *current = Some(Arc::new(snapshot));
                            }
                        }
                        Err(error) => tracing::warn!(%error, "refreshing a status page"),
                    }
                    drop(building);
                });
            }
            return Ok(Some(snapshot));
        }
        let _building = slot.building.lock().await;
        if let Some(snapshot) = slot.current() {
            return Ok(Some(snapshot));
        }
        let snapshot = Arc::new(build(state, page, None).await?);
        if let Ok(mut current) = slot.current.write() {
            *current = Some(snapshot.clone());
        }
        Ok(Some(snapshot))
    }

    /// Whether another password may be tried for the page now.
    pub(crate) fn may_try_password(&self, slug: &str) -> bool {
        self.password_tries.check_key(&slug.to_owned()).is_ok()
    }

    /// A signature of `message` with the server's key for status pages
    /// (URL-safe base64).
    pub(crate) fn sign(&self, message: &str) -> String {
        use base64::Engine as _;
        let mut mac = self.access_key.clone();
        mac.update(message.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether a subscription may be asked for on the page now: a few a
    /// minute, so that the form cannot be used to flood mailboxes.
    pub(crate) fn may_subscribe(&self, slug: &str) -> bool {
        self.subscriptions.check_key(&slug.to_owned()).is_ok()
    }

    /// The cookie value that proves a visitor typed the page's password.
    pub(crate) fn access_cookie(&self, slug: &str, password_hash: &[u8; 32]) -> String {
        let mut mac = self.access_key.clone();
        mac.update(slug.as_bytes());
        mac.update(b"\0");
        mac.update(password_hash);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn per_minute(count: u32) -> governor::DefaultKeyedRateLimiter<String> {
    let count = std::num::NonZeroU32::new(count).unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_minute(count))
}

/// SHA-256 of a text.
pub(crate) fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Whether two digests are equal, in time that does not depend on where
/// they differ.
pub(crate) fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How fast a snapshot's answers are compressed: they are rebuilt every
/// few seconds, so a fast level (the difference is a few per cent).
fn compressed(body: Vec<u8>, content_type: &str) -> CompressedAsset {
    CompressedAsset::fast(body, content_type)
}

async fn access_of(state: &AppState, spec: &StatusPageSpec) -> Access {
    let references = spec.secret_references();
    let Some(reference) = references.first() else {
        return Access::Public;
    };
    let Some(vault) = state.synthetic.vault() else {
        return Access::Closed;
    };
    let secrets = match vault.secrets(&state.store).await {
        Ok(secrets) => secrets,
        Err(error) => {
            tracing::warn!(%error, "reading a private status page's secret");
            return Access::Closed;
        }
    };
    match secrets.get(&reference.name) {
        Some(value) if spec.password.is_some() => Access::Password(digest(value)),
        Some(value) => Access::Token(digest(value)),
        None => Access::Closed,
    }
}

/// The page's HTML from a document not saved yet: the editor's preview.
pub(crate) async fn preview(state: &AppState, page: &StatusPage) -> Result<String, StoreError> {
    let world = World::read(&state.store).await?;
    let public = model::gather(&state.store, &state.status_pages.traffic, page, &world).await?;
    Ok(render::page_html(
        &public,
        &format!("/status/{}", page.spec.slug),
        false,
    ))
}

async fn build(
    state: &AppState,
    stored: &StatusPage,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, StoreError> {
    let board = &state.status_pages;
    let world = World::read(&state.store).await?;
    let page = model::gather(&state.store, &board.traffic, stored, &world).await?;
    let spec = stored.spec.clone();
    let subscribe = state.config.smtp.is_some();
    let base = format!("/status/{}", spec.slug);
    let html = compressed(
        render::page_html(&page, &base, subscribe).into_bytes(),
        "text/html; charset=utf-8",
    );
    let html_own_domain = spec.domain.as_ref().map(|_| {
        compressed(
            render::page_html(&page, "", subscribe).into_bytes(),
            "text/html; charset=utf-8",
        )
    });
    let page_url = subscriptions::page_url(state, &spec);
    let feed = compressed(
        render::feed_atom(&page, &page_url).into_bytes(),
        "application/atom+xml; charset=utf-8",
    );
    let json = compressed(render::page_json(&page), "application/json");
    let mut badges = HashMap::new();
    for component in page.groups.iter().flat_map(|group| &group.components) {
        badges.insert(
            component.key.clone(),
            (
                compressed(render::state_badge(component).into_bytes(), "image/svg+xml"),
                compressed(
                    render::uptime_badge(component).into_bytes(),
                    "image/svg+xml",
                ),
            ),
        );
    }
    let logo = spec
        .logo
        .as_deref()
        .and_then(|url| sightline_core::status_page::parse_logo(url).ok());
    let access = access_of(state, &spec).await;
    let changed_at = match previous {
        Some(previous) if previous.html.plain == html.plain => previous.changed_at,
        _ => std::time::SystemTime::now(),
    };
    Ok(Snapshot {
        built: Instant::now(),
        html,
        html_own_domain,
        json,
        feed,
        badges,
        logo,
        access,
        changed_at,
    })
}
