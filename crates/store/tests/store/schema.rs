//! The two migration folders must build the same schema: the same tables,
//! columns (types normalised, nullability), primary keys, indexes and
//! foreign keys, read back from SQLite's pragmas and PostgreSQL's
//! catalogues. A difference the backends need is listed in [`ALLOWED`] with
//! its reason; any other is a migration written for one backend only.

use sightline_store::BackendKind;
use sightline_store::testing::TestDatabase;
use sqlx::Row;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One thing a schema says, in words both backends can be read into.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fact {
    Table(String),
    Column {
        table: String,
        name: String,
        /// `integer`, `text`, `real`, `boolean` or `bytes`.
        kind: String,
        not_null: bool,
    },
    PrimaryKey {
        table: String,
        columns: Vec<String>,
    },
    /// Unique constraints are indexes too; a covering index's included
    /// columns (PostgreSQL's `INCLUDE`) follow its keys, as they would be
    /// written on SQLite, which has no `INCLUDE`.
    Index {
        table: String,
        columns: Vec<String>,
        unique: bool,
        /// The partial index's condition, normalised; empty for none.
        condition: String,
    },
    ForeignKey {
        table: String,
        columns: Vec<String>,
        references: String,
        referenced: Vec<String>,
        on_delete: String,
    },
}

/// A difference the backends need, on the backend that alone has the fact.
struct Allowed {
    only_on: BackendKind,
    fact: fn(&Fact) -> bool,
    why: &'static str,
}

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

const ALLOWED: &[Allowed] = &[
    Allowed {
        only_on: BackendKind::Postgres,
        fact: |fact| {
            *fact
                == Fact::PrimaryKey {
                    table: "page_views".into(),
                    columns: columns(&["id", "at"]),
                }
                || *fact
                    == Fact::PrimaryKey {
                        table: "check_results".into(),
                        columns: columns(&["id", "due_at"]),
                    }
        },
        why: "PostgreSQL partitions raw page views and results by day, and a partitioned \
              table's unique keys must hold its partition key",
    },
    Allowed {
        only_on: BackendKind::Sqlite,
        fact: |fact| {
            ["page_views", "check_results"].into_iter().any(|table| {
                *fact
                    == Fact::PrimaryKey {
                        table: table.into(),
                        columns: columns(&["id"]),
                    }
            })
        },
        why: "SQLite does not partition, so the id alone is the key",
    },
    Allowed {
        only_on: BackendKind::Postgres,
        fact: |fact| {
            *fact
                == Fact::Index {
                    table: "check_results".into(),
                    columns: columns(&["monitor_id", "due_at", "checkpoint_id", "attempt"]),
                    unique: true,
                    condition: String::new(),
                }
        },
        why: "the same unique key, ordered to find a monitor's results by due time as well; \
              PostgreSQL rebuilt the table to partition it and reordered it then",
    },
    Allowed {
        only_on: BackendKind::Sqlite,
        fact: |fact| {
            *fact
                == Fact::Index {
                    table: "check_results".into(),
                    columns: columns(&["monitor_id", "checkpoint_id", "due_at", "attempt"]),
                    unique: true,
                    condition: String::new(),
                }
                || *fact
                    == Fact::Index {
                        table: "check_results".into(),
                        columns: columns(&["monitor_id", "due_at"]),
                        unique: false,
                        condition: String::new(),
                    }
        },
        why: "SQLite keeps the unique key in its first order (reordering it means copying the \
              largest table) and finds results by due time through an index of its own",
    },
    Allowed {
        only_on: BackendKind::Postgres,
        fact: |fact| {
            covering(
                fact,
                &["page_views", "value"],
                &["page_views", "second_value"],
            )
        },
        why: "PostgreSQL's covering indexes of rum_rollups INCLUDE their counts and values \
              after the key, in the order written there",
    },
    Allowed {
        only_on: BackendKind::Sqlite,
        fact: |fact| {
            covering(
                fact,
                &["value", "page_views"],
                &["second_value", "page_views"],
            )
        },
        why: "SQLite has no INCLUDE: the covering columns follow the key as key columns, in \
              their own order, which no lookup uses",
    },
];

/// One of `rum_rollups`' two covering indexes, by value and by second
/// value, with `by_second` or `by_value` after its key.
fn covering(fact: &Fact, by_second: &[&str], by_value: &[&str]) -> bool {
    let key = |sort: &str| {
        let mut key = columns(&["site_id", "resolution", "dimension", sort, "bucket_start"]);
        key.extend(columns(if sort == "value" { by_value } else { by_second }));
        key
    };
    ["second_value", "value"].into_iter().any(|sort| {
        *fact
            == Fact::Index {
                table: "rum_rollups".into(),
                columns: key(sort),
                unique: false,
                condition: if sort == "second_value" {
                    "second_value <> ''".into()
                } else {
                    String::new()
                },
            }
    })
}

#[tokio::test]
async fn both_migration_folders_build_the_same_schema() {
    let clock = Arc::new(sightline_core::ManualClock::new(
        sightline_core::Timestamp::from_millis(1_795_000_000_000),
    ));
    let sqlite = TestDatabase::new(BackendKind::Sqlite).await;
    let postgres = TestDatabase::new(BackendKind::Postgres).await;
    sqlite.store(clock.clone()).await;
    postgres.store(clock).await;
    let on_sqlite = sqlite_facts(sqlite.url()).await;
    let on_postgres = postgres_facts(postgres.url()).await;
    // The reading itself must have found the schema.
    for facts in [&on_sqlite, &on_postgres] {
        assert!(facts.contains(&Fact::Table("monitors".into())));
        assert!(
            facts
                .iter()
                .any(|fact| matches!(fact, Fact::Index { condition, .. } if !condition.is_empty()))
        );
        assert!(facts.iter().any(
            |fact| matches!(fact, Fact::ForeignKey { on_delete, .. } if on_delete == "cascade")
        ));
    }

    let mut unexplained = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (kind, only_here) in [
        (BackendKind::Sqlite, on_sqlite.difference(&on_postgres)),
        (BackendKind::Postgres, on_postgres.difference(&on_sqlite)),
    ] {
        for fact in only_here {
            match ALLOWED
                .iter()
                .position(|allowed| allowed.only_on == kind && (allowed.fact)(fact))
            {
                Some(index) => used[index] = true,
                None => unexplained.push(format!("only on {kind:?}: {fact:?}")),
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "the migration folders differ:\n{}",
        unexplained.join("\n")
    );
    // An allowance that no longer matches anything is stale.
    for (allowed, used) in ALLOWED.iter().zip(used) {
        assert!(used, "nothing differs any more: {}", allowed.why);
    }
}

/// `INTEGER`, `BIGINT`, `int8`… as one word per kind of value.
fn kind_of(declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let kind = match declared.as_str() {
        "integer" | "bigint" | "smallint" | "int" | "int2" | "int4" | "int8" => "integer",
        "text" | "character varying" | "varchar" => "text",
        "real" | "double precision" | "float8" | "float4" => "real",
        "boolean" | "bool" => "boolean",
        "blob" | "bytea" => "bytes",
        other => return format!("unknown type {other}"),
    };
    kind.to_owned()
}

/// A partial index's condition without the punctuation and casts each
/// backend adds when it prints one back.
fn condition_of(text: &str) -> String {
    text.replace("::text", "")
        .replace(['(', ')'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

fn is_ours(table: &str) -> bool {
    !table.starts_with("sqlite_") && !table.starts_with("_sqlx")
}

async fn sqlite_facts(url: &str) -> BTreeSet<Fact> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut facts = BTreeSet::new();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    for table in tables.into_iter().filter(|table| is_ours(table)) {
        facts.insert(Fact::Table(table.clone()));
        let mut key = Vec::new();
        for row in sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let name: String = row.get("name");
            let pk: i64 = row.get("pk");
            if pk > 0 {
                key.push((pk, name.clone()));
            }
            facts.insert(Fact::Column {
                table: table.clone(),
                name,
                kind: kind_of(row.get("type")),
                // A key column is never null, declared so or not.
                not_null: row.get::<i64, _>("notnull") == 1 || pk > 0,
            });
        }
        key.sort();
        facts.insert(Fact::PrimaryKey {
            table: table.clone(),
            columns: key.into_iter().map(|(_, name)| name).collect(),
        });
        for index in sqlx::query(
            "SELECT l.name, l.\"unique\", l.origin, m.sql FROM pragma_index_list($1) l \
             LEFT JOIN sqlite_master m ON m.type = 'index' AND m.name = l.name",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            let origin: String = index.get("origin");
            if origin == "pk" {
                continue;
            }
            let name: String = index.get("name");
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let sql: Option<String> = index.get("sql");
            let condition = sql
                .as_deref()
                .and_then(|sql| {
                    let upper = sql.to_ascii_uppercase();
                    upper
                        .rfind(" WHERE ")
                        .map(|at| condition_of(&sql[at + 7..]))
                })
                .unwrap_or_default();
            facts.insert(Fact::Index {
                table: table.clone(),
                columns,
                unique: index.get::<i64, _>("unique") == 1,
                condition,
            });
        }
        let mut keys: std::collections::BTreeMap<i64, Fact> = Default::default();
        for row in sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list($1) \
             ORDER BY id, seq",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            let entry = keys
                .entry(row.get("id"))
                .or_insert_with(|| Fact::ForeignKey {
                    table: table.clone(),
                    columns: Vec::new(),
                    references: row.get("table"),
                    referenced: Vec::new(),
                    on_delete: row.get::<String, _>("on_delete").to_ascii_lowercase(),
                });
            if let Fact::ForeignKey {
                columns,
                referenced,
                ..
            } = entry
            {
                columns.push(row.get("from"));
                // `REFERENCES t` without columns means t's key: its id.
                referenced.push(row.get::<Option<String>, _>("to").unwrap_or("id".into()));
            }
        }
        facts.extend(keys.into_values());
    }
    pool.close().await;
    facts
}

async fn postgres_facts(url: &str) -> BTreeSet<Fact> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut facts = BTreeSet::new();
    // Tables, and partitioned tables, but not their day partitions.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for table in tables.into_iter().filter(|table| is_ours(table)) {
        facts.insert(Fact::Table(table.clone()));
        for row in sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type, is_nullable::text AS nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            facts.insert(Fact::Column {
                table: table.clone(),
                name: row.get("name"),
                kind: kind_of(row.get("type")),
                not_null: row.get::<String, _>("nullable") == "NO",
            });
        }
        for row in sqlx::query(
            "SELECT i.indisprimary AS primary, i.indisunique AS unique, \
             COALESCE(pg_get_expr(i.indpred, i.indrelid), '') AS condition, \
             ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                   FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS columns \
             FROM pg_index i WHERE i.indrelid = $1::regclass",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            let columns: Vec<String> = row.get("columns");
            if row.get::<bool, _>("primary") {
                facts.insert(Fact::PrimaryKey {
                    table: table.clone(),
                    columns,
                });
            } else {
                facts.insert(Fact::Index {
                    table: table.clone(),
                    columns,
                    unique: row.get("unique"),
                    condition: condition_of(row.get("condition")),
                });
            }
        }
        for row in sqlx::query(
            "SELECT f.relname::text AS references, c.confdeltype::text AS on_delete, \
             ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) \
               AS columns, \
             ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) \
               AS referenced \
             FROM pg_constraint c JOIN pg_class f ON f.oid = c.confrelid \
             WHERE c.contype = 'f' AND c.conrelid = $1::regclass AND c.conparentid = 0",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            let on_delete = match row.get::<String, _>("on_delete").as_str() {
                "a" => "no action",
                "r" => "restrict",
                "c" => "cascade",
                "n" => "set null",
                "d" => "set default",
                other => panic!("unknown ON DELETE action `{other}`"),
            };
            facts.insert(Fact::ForeignKey {
                table: table.clone(),
                columns: row.get("columns"),
                references: row.get("references"),
                referenced: row.get("referenced"),
                on_delete: on_delete.to_owned(),
            });
        }
    }
    pool.close().await;
    facts
}
