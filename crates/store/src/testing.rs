//! Fresh, throw-away databases for tests, on both backends (and free ports
//! for the servers tests start beside them).
//!
//! Every test gets its own SQLite file in a temporary directory or its own
//! PostgreSQL database (created from the server named by
//! `SIGHTLINE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! so tests and whole test runs never see each other's data. The database is
//! dropped when the handle is.

use crate::{BackendKind, Store};
use sightline_core::Clock;
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A loopback port nothing listens on now: for a test server to be started
/// on later, or for a target that refuses connections.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// The server test databases are created on, when the environment does not say.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists for as long as this handle does.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    kind: BackendKind,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh database of the given kind.
    pub async fn new(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Sqlite => Self::sqlite(),
            BackendKind::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let directory = tempfile::tempdir().expect("create a temporary directory");
        let url = format!(
            "sqlite://{}",
            directory.path().join("sightline.db").display()
        );
        Self {
            url,
            kind: BackendKind::Sqlite,
            cleanup: Cleanup::Directory(directory),
        }
    }

    /// A fresh database on the test PostgreSQL server.
    pub async fn postgres() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var("SIGHTLINE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "sightline_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            nanos
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("the test PostgreSQL server at {admin_url} is not reachable: {e}")
            });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("SIGHTLINE_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Self {
            url: url.to_string(),
            kind: BackendKind::Postgres,
            cleanup: Cleanup::PostgresDatabase { admin_url, name },
        }
    }

    /// The URL to give the store or the server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// A migrated store on this database.
    pub async fn store(&self, clock: Arc<dyn Clock>) -> Store {
        let store = Store::connect(&self.url, clock)
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::PostgresDatabase { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop may run inside a runtime, which must not block on another; a
        // thread of its own with its own small runtime does the clean-up.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut admin)
                                .await;
                        let _ = admin.close().await;
                    }
                });
            }
        });
        let _ = dropper.join();
    }
}

/// Runs each named story (an `async fn(BackendKind)`) as two tests: one on
/// SQLite, one on PostgreSQL, in modules `sqlite` and `postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() { super::$story($crate::BackendKind::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() { super::$story($crate::BackendKind::Postgres).await })*
        }
    };
}
