//! The collector: from a beacon request to a durable page view, or a
//! rejection with a reason.
//!
//! Order of checks, cheapest first: size, JSON and ranges, the site key (from
//! a short-lived cache), the `Origin` against the site's allowed origins
//! and the page URL, rate limits per site and per client address, then
//! enrichment and the group-committed write.

use crate::enrich::{Enricher, NotAPageView};
use crate::writer::{PageViewWriter, WriterTask};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sightline_core::rum::{Beacon, MAX_BEACON_BYTES};
use sightline_core::site::canonical_origin;
use sightline_store::{Store, StoreError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How the collector behaves.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Page views waiting for their commit before beacons are refused (503).
    pub queue_capacity: usize,
    /// Page views per transaction at most.
    pub max_batch: usize,
    /// Beacons per second one site may send (bursts up to one second's worth).
    pub per_site_per_second: NonZeroU32,
    /// Beacons per minute one client address may send.
    pub per_address_per_minute: NonZeroU32,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            max_batch: 1_000,
            per_site_per_second: NonZeroU32::new(2_000).unwrap_or(NonZeroU32::MIN),
            per_address_per_minute: NonZeroU32::new(120).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// One beacon as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct BeaconRequest<'a> {
    /// The body.
    pub body: &'a [u8],
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: &'a str,
    /// The client address (after trusted proxies).
    pub client: IpAddr,
}

/// Why a beacon was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Larger than the limit.
    TooLarge,
    /// Not JSON, or breaking the schema or a value range.
    Malformed,
    /// No site has this key.
    UnknownSite,
    /// The page's origin is not one of the site's.
    OriginNotAllowed,
    /// Too many beacons from this site or address.
    RateLimited,
    /// A robot's or a headless browser's, by its User-Agent: not a person's
    /// page view.
    Robot,
    /// The queue is full or the database unavailable.
    Unavailable,
}

impl RejectReason {
    /// A stable name, used as the error code and the metrics label.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownSite => "unknown_site",
            RejectReason::OriginNotAllowed => "origin_not_allowed",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::Robot => "robot",
            RejectReason::Unavailable => "unavailable",
        }
    }

    /// The name a site's count of ignored beacons uses, for the reasons a
    /// site's own pages can cause; `None` for the others.
    pub fn ignored_as(self) -> Option<&'static str> {
        match self {
            RejectReason::Robot => Some("robot"),
            RejectReason::OriginNotAllowed => Some("origin"),
            RejectReason::RateLimited => Some("rate_limit"),
            RejectReason::Malformed | RejectReason::TooLarge => Some("malformed"),
            RejectReason::UnknownSite | RejectReason::Unavailable => None,
        }
    }

    /// The HTTP status to answer with.
    pub fn status(self) -> u16 {
        match self {
            RejectReason::TooLarge => 413,
            RejectReason::Malformed | RejectReason::UnknownSite => 400,
            RejectReason::OriginNotAllowed => 403,
            RejectReason::Robot => 422,
            RejectReason::RateLimited => 429,
            RejectReason::Unavailable => 503,
        }
    }
}

/// A refused beacon: the reason and what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    /// Why, as a category.
    pub reason: RejectReason,
    /// Why, in words.
    pub message: String,
    /// The offending beacon field, for malformed beacons.
    pub field: Option<String>,
}

impl Rejection {
    /// A body over [`MAX_BEACON_BYTES`], wherever it was measured.
    pub fn too_large() -> Self {
        reject(
            RejectReason::TooLarge,
            format!("the beacon is larger than {MAX_BEACON_BYTES} bytes"),
        )
    }
}

fn reject(reason: RejectReason, message: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        message: message.into(),
        field: None,
    }
}

/// What the collector needs to know of a site.
#[derive(Debug, Clone)]
struct SiteEntry {
    id: i64,
    origins: Vec<String>,
    keep_query_string: bool,
}

/// Site lookups are cached this long, so a beacon costs no database read;
/// a changed site takes effect within it.
const SITE_CACHE_TTL: Duration = Duration::from_secs(5);
const SITE_CACHE_MAX: usize = 10_000;

/// The RUM collector. One per process.
#[derive(Debug)]
pub struct Collector {
    store: Store,
    enricher: Enricher,
    writer: PageViewWriter,
    sites: RwLock<HashMap<String, (Instant, Option<SiteEntry>)>>,
    per_site: DefaultKeyedRateLimiter<i64>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    /// Beacons of known sites refused since the last
    /// [`Collector::take_ignored`], by site and reason.
    ignored: std::sync::Mutex<HashMap<(i64, &'static str), i64>>,
}

impl Collector {
    /// A collector writing to `store`; also returns the writer task to await
    /// after [`Collector::close`].
    pub fn start(store: Store, enricher: Enricher, config: &CollectorConfig) -> (Self, WriterTask) {
        let (writer, task) =
            PageViewWriter::spawn(store.clone(), config.queue_capacity, config.max_batch);
        let collector = Self {
            store,
            enricher,
            writer,
            sites: RwLock::new(HashMap::new()),
            per_site: RateLimiter::keyed(Quota::per_second(config.per_site_per_second)),
            per_address: RateLimiter::keyed(Quota::per_minute(config.per_address_per_minute)),
            ignored: std::sync::Mutex::new(HashMap::new()),
        };
        (collector, task)
    }

    /// Takes one beacon through every check to durable storage: `Ok` with
    /// its site's id once it is committed. A beacon of a known site that is
    /// refused is counted for the site (see [`Collector::take_ignored`]).
    pub async fn collect(&self, request: BeaconRequest<'_>) -> Result<i64, Rejection> {
        if request.body.len() > MAX_BEACON_BYTES {
            return Err(Rejection::too_large());
        }
        let beacon = match Beacon::parse(request.body) {
            Ok(beacon) => beacon,
            Err(error) => {
                let rejection = Rejection {
                    reason: RejectReason::Malformed,
                    message: error.to_string(),
                    field: (!error.field.is_empty()).then_some(error.field),
                };
                // Counted for its site when it names one.
                let key = serde_json::from_slice::<serde_json::Value>(request.body)
                    .ok()
                    .and_then(|value| value["site"].as_str().map(str::to_owned));
                if let Some(key) = key
                    && let Ok(Some(site)) = self.site(&key).await
                {
                    self.count_ignored(site.id, RejectReason::Malformed);
                }
                return Err(rejection);
            }
        };
        let site = self.site(&beacon.site).await?.ok_or_else(|| {
            reject(
                RejectReason::UnknownSite,
                format!("no site has the key `{}`", beacon.site),
            )
        })?;
        let refused = |rejection: Rejection| {
            self.count_ignored(site.id, rejection.reason);
            rejection
        };
        check_origin(&site, request.origin, &beacon.url).map_err(refused)?;
        if self.per_site.check_key(&site.id).is_err()
            || self.per_address.check_key(&request.client).is_err()
        {
            return Err(refused(reject(
                RejectReason::RateLimited,
                "too many beacons; slow down",
            )));
        }
        let at = self.store.now();
        let page_view = match self.enricher.page_view(
            site.id,
            site.keep_query_string,
            &beacon,
            request.user_agent,
            request.client,
            at,
        ) {
            Ok(page_view) => page_view,
            Err(NotAPageView::Bot) => {
                return Err(refused(reject(
                    RejectReason::Robot,
                    format!(
                        "ignored: the User-Agent `{}` is a robot's or a headless browser's, \
                         and only people's page views are stored",
                        request.user_agent
                    ),
                )));
            }
        };
        // A full queue, a closing writer and a failed commit all mean: not
        // stored, try later.
        self.writer
            .write(page_view)
            .await
            .map_err(|error| reject(RejectReason::Unavailable, error.to_string()))?;
        Ok(site.id)
    }

    fn count_ignored(&self, site_id: i64, reason: RejectReason) {
        if let Some(name) = reason.ignored_as() {
            let mut ignored = self
                .ignored
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *ignored.entry((site_id, name)).or_default() += 1;
        }
    }

    /// The counts of ignored beacons since the last call, as `(site id,
    /// reason, how many)`: stored with [`Store::add_ignored_beacons`] now
    /// and then, not with every beacon, so that a flood of them costs no
    /// writes.
    pub fn take_ignored(&self) -> Vec<(i64, &'static str, i64)> {
        let mut ignored = self
            .ignored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *ignored)
            .into_iter()
            .map(|((site, reason), count)| (site, reason, count))
            .collect()
    }

    /// Stops accepting page views; queued ones are committed. Await the
    /// writer task afterwards.
    pub fn close(&self) {
        self.writer.close();
    }

    /// Forgets rate-limit keys that have recovered.
    pub fn shrink(&self) {
        self.per_site.retain_recent();
        self.per_address.retain_recent();
    }

    async fn site(&self, key: &str) -> Result<Option<SiteEntry>, Rejection> {
        if let Ok(cache) = self.sites.read()
            && let Some((fetched, entry)) = cache.get(key)
            && fetched.elapsed() < SITE_CACHE_TTL
        {
            return Ok(entry.clone());
        }
        let entry = match self.store.site_by_key(key).await {
            Ok(site) => Some(SiteEntry {
                id: site.id,
                origins: site.spec.origins,
                keep_query_string: site.spec.keep_query_string,
            }),
            Err(StoreError::NotFound(_)) => None,
            Err(error) => return Err(reject(RejectReason::Unavailable, error.to_string())),
        };
        if let Ok(mut cache) = self.sites.write() {
            if cache.len() >= SITE_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key.to_owned(), (Instant::now(), entry.clone()));
        }
        Ok(entry)
    }
}

/// The beacon's `Origin` must be one of the site's origins, and the page URL
/// must be on that same origin.
fn check_origin(
    site: &SiteEntry,
    origin: Option<&str>,
    page_url: &url::Url,
) -> Result<(), Rejection> {
    let Some(origin) = origin else {
        return Err(reject(
            RejectReason::OriginNotAllowed,
            "the beacon has no Origin header",
        ));
    };
    let origin = canonical_origin(origin).map_err(|_| {
        reject(
            RejectReason::OriginNotAllowed,
            format!("`{origin}` is not an origin"),
        )
    })?;
    if !site.origins.contains(&origin) {
        return Err(reject(
            RejectReason::OriginNotAllowed,
            format!("`{origin}` is not one of the site's allowed origins"),
        ));
    }
    if page_url.origin().ascii_serialization() != origin {
        return Err(reject(
            RejectReason::OriginNotAllowed,
            "the page URL is not on the Origin the beacon came from",
        ));
    }
    Ok(())
}
