//! One Store conformance suite, run against SQLite (temp dir) and PostgreSQL (fresh database).

use std::sync::Arc;

use domain::{NewRepository, RepositoryId, Store, StoreError};
use server::store::{MigrationError, OpenError, PostgresStore, SqliteStore};

use crate::support::TestPostgres;

async fn conformance(store: Arc<dyn Store>) {
    store.check().await.expect("store answers");
    assert!(
        store.list_repositories().await.expect("list").is_empty(),
        "a new store is empty"
    );

    let shop = store
        .add_repository(
            &NewRepository::new("acme/shop", "https://github.com/acme/shop.git", "")
                .expect("valid"),
        )
        .await
        .expect("add");
    assert_eq!(shop.name, "acme/shop");
    assert_eq!(shop.default_branch, "main");
    assert!(
        shop.created_at_ms > 1_700_000_000_000,
        "creation time is recorded in ms"
    );
    let api = store
        .add_repository(
            &NewRepository::new("acme/api", "/srv/git/api.git", "develop")
                .expect("valid")
                .on_cluster("eu"),
        )
        .await
        .expect("add");
    assert_ne!(shop.id, api.id);
    assert_eq!(
        (shop.cluster.as_deref(), api.cluster.as_deref()),
        (None, Some("eu")),
        "a repository may be pinned to a cluster"
    );

    let names: Vec<String> = store
        .list_repositories()
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["acme/api", "acme/shop"], "listed by name");
    assert_eq!(store.get_repository(api.id).await.expect("get"), api);

    let duplicate = store
        .add_repository(&NewRepository::new("acme/shop", "/elsewhere", "").expect("valid"))
        .await;
    assert!(
        matches!(
            duplicate,
            Err(StoreError::Conflict {
                entity: "repository",
                ..
            })
        ),
        "{duplicate:?}"
    );

    // Preview rules: defaults until set, then as set; repositories are found by name.
    assert_eq!(
        shop.preview_rules,
        domain::repository::PreviewRulesConfig::default()
    );
    let rules =
        domain::repository::PreviewRulesConfig::from_lists("main, release/*", "preview", "", false);
    let changed = store
        .set_preview_rules(shop.id, &rules)
        .await
        .expect("rules");
    assert_eq!(changed.preview_rules, rules);
    let found = store
        .get_repository_named("acme/shop")
        .await
        .expect("get")
        .expect("found by name");
    assert_eq!(found.preview_rules.target_branches, ["main", "release/*"]);
    assert_eq!(
        store.get_repository_named("acme/none").await.expect("get"),
        None
    );
    assert!(matches!(
        store.set_preview_rules(RepositoryId(9_999), &rules).await,
        Err(StoreError::NotFound { .. })
    ));

    store.remove_repository(shop.id).await.expect("remove");
    assert!(matches!(
        store.get_repository(shop.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.remove_repository(shop.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_repository(RepositoryId(9_999)).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_repositories().await.expect("list").len(), 1);
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("nested/slipway.db"))
        .await
        .expect("open creates folders and file");
    conformance(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_store_conforms() {
    let db = TestPostgres::create().await;
    let store = PostgresStore::open(&db.url.clone().into(), "test database")
        .await
        .expect("open");
    conformance(Arc::new(store)).await;
    db.drop_database().await;
}

#[tokio::test]
async fn data_survives_reopening_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slipway.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .add_repository(&NewRepository::new("kept", "/x", "").expect("valid"))
        .await
        .expect("add");
    drop(store);
    let reopened = SqliteStore::open(&path)
        .await
        .expect("reopen migrates nothing new");
    assert_eq!(
        reopened.list_repositories().await.expect("list")[0].name,
        "kept"
    );
}

#[tokio::test]
async fn a_database_with_a_different_migration_history_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slipway.db");
    drop(SqliteStore::open(&path).await.expect("open"));
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connect");
        sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
            .execute(&mut conn)
            .await
            .expect("tamper");
    }
    let refused = SqliteStore::open(&path)
        .await
        .expect_err("tampered history must be refused");
    assert!(
        matches!(
            refused,
            OpenError::Migration(MigrationError::HistoryMismatch(_))
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("does not match this version of Slipway"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_slipway_is_refused() {
    let db = TestPostgres::create().await;
    drop(
        PostgresStore::open(&db.url.clone().into(), "test")
            .await
            .expect("open"),
    );
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', true, '\\x00', 1)",
        )
        .execute(&mut conn)
        .await
        .expect("insert a future migration");
    }
    let refused = PostgresStore::open(&db.url.clone().into(), "test")
        .await
        .expect_err("unknown migration");
    assert!(
        matches!(
            refused,
            OpenError::Migration(MigrationError::HistoryMismatch(_))
        ),
        "{refused:?}"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn unreachable_postgres_names_the_address() {
    let port = crate::support::free_port();
    let url = format!("postgres://slipway:pw@127.0.0.1:{port}/slipway");
    let error = PostgresStore::open(
        &url.into(),
        &format!("postgres://slipway:***@127.0.0.1:{port}/slipway"),
    )
    .await
    .expect_err("nothing listens there");
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "cannot reach PostgreSQL at postgres://slipway:***@127.0.0.1:{port}/slipway"
        )),
        "{text}"
    );
    assert!(
        error.is_transient(),
        "a refused connection may succeed later"
    );
}

#[tokio::test]
async fn replicas_starting_together_on_a_fresh_postgres_apply_the_migrations_once() {
    use sqlx::Connection;
    let db = TestPostgres::create().await;
    let url: secrecy::SecretString = db.url.clone().into();
    let open = || PostgresStore::open(&url, "test database");
    let (a, b, c) = futures::join!(open(), open(), open());
    for (replica, opened) in [a, b, c].into_iter().enumerate() {
        let store = opened.unwrap_or_else(|e| panic!("replica {replica} did not start: {e}"));
        store.check().await.expect("answers");
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let (applied, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut conn)
    .await
    .expect("history");
    assert_eq!(applied, distinct, "each migration applied once");
    assert_eq!(
        applied,
        i64::try_from(
            std::fs::read_dir(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../migrations/postgres"
            ))
            .expect("migrations")
            .count()
        )
        .expect("count"),
        "every migration applied"
    );
    conn.close().await.expect("close");
    db.drop_database().await;
}
