//! The SQLite Store's one write connection, held for the life of the Store and lent out in
//! turn. Through a one-connection sqlx pool every statement costs three trips to the
//! connection's worker thread (a ping when the connection is taken, the statement, and a ping
//! when it is given back) and the next writer waits for all three; here it costs one. The
//! worker runs what it is sent in order, so a transaction abandoned mid-way is rolled back
//! before the next writer's first statement.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::sqlite::{
    Sqlite, SqliteConnection, SqliteQueryResult, SqliteRow, SqliteStatement, SqliteTypeInfo,
};
use sqlx::{Database, Describe, Either, Execute, Executor, TransactionManager};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a writer waits for its turn before it fails (as a pool's `acquire_timeout` would).
const TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// The write connection; `&SqliteWriter` runs queries like a pool does.
#[derive(Debug, Clone)]
pub struct SqliteWriter {
    connection: Arc<Mutex<SqliteConnection>>,
}

impl SqliteWriter {
    /// Holds `connection` for good.
    pub fn new(connection: SqliteConnection) -> Self {
        Self {
            connection: Arc::new(Mutex::new(connection)),
        }
    }

    async fn take(&self) -> Result<OwnedMutexGuard<SqliteConnection>, sqlx::Error> {
        tokio::time::timeout(TURN_TIMEOUT, self.connection.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }

    /// Starts a transaction; other writers wait until it is committed or dropped.
    pub async fn begin(&self) -> Result<WriterTransaction, sqlx::Error> {
        let mut connection = self.take().await?;
        <Sqlite as Database>::TransactionManager::begin(&mut connection, None).await?;
        Ok(WriterTransaction {
            connection,
            open: true,
        })
    }
}

/// A transaction on the write connection: rolled back when dropped uncommitted.
pub struct WriterTransaction {
    connection: OwnedMutexGuard<SqliteConnection>,
    open: bool,
}

impl WriterTransaction {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        <Sqlite as Database>::TransactionManager::commit(&mut self.connection).await?;
        self.open = false;
        Ok(())
    }
}

impl Deref for WriterTransaction {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl DerefMut for WriterTransaction {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}

impl Drop for WriterTransaction {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection's worker ahead of anything the next writer sends.
            <Sqlite as Database>::TransactionManager::start_rollback(&mut self.connection);
        }
    }
}

impl<'c> Executor<'c> for &'c SqliteWriter {
    type Database = Sqlite;

    fn fetch_many<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Sqlite> + 'q,
        'q: 'e,
    {
        // The rows are gathered while the connection is held, then handed out.
        futures::stream::once(async move {
            let results: Vec<_> = match self.take().await {
                Ok(mut connection) => connection.fetch_many(query).collect().await,
                Err(error) => vec![Err(error)],
            };
            futures::stream::iter(results)
        })
        .flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<SqliteRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Sqlite> + 'q,
        'q: 'e,
    {
        Box::pin(async move { self.take().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e, 'q>(
        self,
        sql: &'q str,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, Result<SqliteStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
        'q: 'e,
    {
        Box::pin(async move { self.take().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Sqlite>, sqlx::Error>>
    where
        'c: 'e,
        'q: 'e,
    {
        Box::pin(async move { self.take().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    async fn writer() -> (SqliteWriter, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("w.db"))
            .create_if_missing(true);
        let writer = SqliteWriter::new(options.connect().await.expect("open"));
        sqlx::query("CREATE TABLE t (n INTEGER NOT NULL)")
            .execute(&writer)
            .await
            .expect("create");
        (writer, dir)
    }

    async fn rows(writer: &SqliteWriter) -> Vec<i64> {
        sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(writer)
            .await
            .expect("select")
    }

    #[tokio::test]
    async fn an_abandoned_transaction_leaves_nothing_and_the_next_writer_goes_on() {
        let (writer, _dir) = writer().await;
        let mut abandoned = writer.begin().await.expect("begin");
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *abandoned)
            .await
            .expect("insert");
        drop(abandoned);

        let mut kept = writer.begin().await.expect("begin");
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *kept)
            .await
            .expect("insert");
        kept.commit().await.expect("commit");
        assert_eq!(rows(&writer).await, [2]);
    }

    #[tokio::test]
    async fn writers_take_turns_whole_transactions_at_a_time() {
        let (writer, _dir) = writer().await;
        let transactions = (0..20).map(|i| {
            let writer = writer.clone();
            async move {
                let mut tx = writer.begin().await.expect("begin");
                // A transaction that reads then writes fails if another commits in between.
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
                    .fetch_one(&mut *tx)
                    .await
                    .expect("count");
                sqlx::query("INSERT INTO t VALUES ($1)")
                    .bind(count * 100 + i)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
            }
        });
        futures::future::join_all(transactions).await;
        let found = rows(&writer).await;
        let mut counts: Vec<i64> = found.iter().map(|n| n / 100).collect();
        counts.sort_unstable();
        assert_eq!(
            counts,
            (0..20).collect::<Vec<_>>(),
            "each saw all before it"
        );
    }

    #[tokio::test]
    async fn a_writer_kept_waiting_too_long_fails_instead_of_hanging() {
        let (writer, _dir) = writer().await;
        let held = writer.begin().await.expect("begin");
        let waited = sqlx::query("INSERT INTO t VALUES (3)")
            .execute(&writer)
            .await;
        assert!(
            matches!(waited, Err(sqlx::Error::PoolTimedOut)),
            "{waited:?}"
        );
        held.commit().await.expect("commit");
    }
}
