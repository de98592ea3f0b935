//! Retention over the month: removing the oldest days of page views from
//! the filled database, the way this build does it (on PostgreSQL, dropping
//! the days' partitions) beside the way it did before partitions (deleting
//! the rows from one table, then the vacuum that deleting leaves to do),
//! in the same run on a copy of the same rows. Wall time and the CPU of
//! every PostgreSQL process are counted.

use super::support::{cpu_seconds, postgres_cpu, postgres_cpu_since};
use sightline_core::Timestamp;
use sightline_store::testing::TestDatabase;
use sightline_store::{BackendKind, Store, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 24 * 3_600_000;

/// Wall time and CPU of a piece of work.
struct Cost {
    wall: Duration,
    cpu: f64,
}

impl Cost {
    fn show(&self) -> String {
        format!(
            "{:.2} s wall, {:.2} s CPU",
            self.wall.as_secs_f64(),
            self.cpu
        )
    }
}

/// Times `work`, counting the CPU of this process and of PostgreSQL's.
async fn measure<T>(work: impl std::future::Future<Output = T>) -> (T, Cost) {
    let database = postgres_cpu();
    let own = cpu_seconds(std::process::id());
    let started = Instant::now();
    let value = work.await;
    let cost = Cost {
        wall: started.elapsed(),
        cpu: cpu_seconds(std::process::id()) - own + postgres_cpu_since(&database),
    };
    (value, cost)
}

/// Removes page views before the start of the second whole day of
/// `period` (the partial first day and one whole day) and prints what it
/// cost.
pub async fn bench(database: &TestDatabase, site_id: i64, period: (i64, i64)) {
    let cutoff = (period.0.div_euclid(DAY_MS) + 2) * DAY_MS;
    let store = database.store(Arc::new(SystemClock)).await;
    let total = count(&store, site_id, period).await;
    let expiring = count(&store, site_id, (period.0, cutoff)).await;
    println!(
        "\n### retention: page views before {} ({expiring} of {total})\n",
        Timestamp::from_millis(cutoff)
    );
    match database.kind() {
        BackendKind::Sqlite => {
            let (expired, cost) = measure(store.delete_page_views_before(cutoff.into())).await;
            let expired = expired.expect("retention");
            assert_eq!(expired.rows, expiring, "retention removes what it should");
            println!("rows deleted: {}", cost.show());
        }
        BackendKind::Postgres => {
            let pool = sqlx::PgPool::connect(database.url())
                .await
                .expect("connect");
            let started = Instant::now();
            one_table_copy(&pool).await;
            println!(
                "(the same rows copied into one table as before partitions, with its indexes, \
                 in {:.0} s)\n",
                started.elapsed().as_secs_f64()
            );
            let (deleted, delete) = measure(async {
                sqlx::query(
                    "DELETE FROM page_views_one_table \
                     WHERE site_id IN (SELECT id FROM sites) AND at < $1",
                )
                .bind(cutoff)
                .execute(&pool)
                .await
                .expect("delete")
                .rows_affected()
            })
            .await;
            assert_eq!(deleted, expiring, "the old way deletes the same rows");
            let ((), vacuum) = measure(async {
                sqlx::query("VACUUM page_views_one_table")
                    .execute(&pool)
                    .await
                    .expect("vacuum");
            })
            .await;
            let (expired, drop) = measure(store.delete_page_views_before(cutoff.into())).await;
            let expired = expired.expect("retention");
            assert_eq!(expired.days.len(), 2, "{expired:?}");
            assert_eq!(
                count(&store, site_id, period).await,
                total - expiring,
                "the days dropped held the rows before the cutoff"
            );
            println!("| way | cost | ratio to the old way (CPU) |");
            println!("|---|---|---:|");
            println!("| rows deleted (before) | {} | |", delete.show());
            println!("| vacuum after the delete (before) | {} | |", vacuum.show());
            let old = delete.cpu + vacuum.cpu;
            println!(
                "| **partitions dropped (now)** | {} | {:.4} |",
                drop.show(),
                drop.cpu / old
            );
            sqlx::query("DROP TABLE page_views_one_table")
                .execute(&pool)
                .await
                .expect("drop the copy");
            pool.close().await;
        }
    }
    store.close().await;
}

async fn count(store: &Store, site_id: i64, (from, to): (i64, i64)) -> u64 {
    store
        .count_page_views(site_id, from.into(), to.into())
        .await
        .expect("count") as u64
}

/// The page views as they were kept before partitions: one table, its
/// primary key on `id` and its index on `(site_id, at)`, vacuumed so that it
/// starts in the state a long-running table reaches.
async fn one_table_copy(pool: &sqlx::PgPool) {
    for statement in [
        "CREATE TABLE page_views_one_table (LIKE page_views INCLUDING DEFAULTS)",
        "INSERT INTO page_views_one_table SELECT * FROM page_views",
        "ALTER TABLE page_views_one_table ADD PRIMARY KEY (id)",
        "CREATE INDEX ON page_views_one_table (site_id, at)",
        "VACUUM ANALYZE page_views_one_table",
    ] {
        sqlx::query(statement)
            .execute(pool)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}
