//! The rows a run of events reads and writes, held in memory, and how they
//! reach the database: the live projector deletes the changed keys and
//! copies their new rows in; a rebuild copies every row into empty tables.

use std::collections::HashMap;
use std::hash::Hash;

use sqlx::postgres::{PgConnection, PgHasArrayType};
use sqlx::Postgres;

use crate::copy::CopyIn;
use crate::rows::Row;

/// How a model's rows reach its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Live tables: each changed key's old row is deleted, then the new
    /// rows are copied in (in the batch's transaction).
    Replace,
    /// Empty tables (a rebuild): rows are copied in, nothing is deleted.
    Fresh,
}

/// Which of a model's rows to write: a rebuild writes its largest table in
/// parts, at once, on connections of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub index: u128,
    pub of: u128,
}

impl Part {
    /// Every row.
    pub(crate) const WHOLE: Part = Part { index: 0, of: 1 };

    /// Whether the row with this id is in the part.
    pub(crate) fn includes(self, id: &uuid::Uuid) -> bool {
        id.as_u128() % self.of == self.index
    }
}

struct Entry<V> {
    value: Option<V>,
    dirty: bool,
}

/// The rows of one table that a run of events touches, by key: each
/// present or known to be absent, and whether the run changed it.
pub(crate) struct Table<K, V> {
    rows: HashMap<K, Entry<V>, foldhash::fast::RandomState>,
    /// The run holds every row of the table (a rebuild into empty tables):
    /// what it does not hold is absent, and a removed row needs no delete.
    complete: bool,
}

impl<K, V> Table<K, V> {
    /// A table of the rows a run touches; `complete` when the table starts
    /// empty ([`Mode::Fresh`]).
    pub(crate) fn new(mode: Mode) -> Self {
        Table {
            rows: HashMap::default(),
            complete: mode == Mode::Fresh,
        }
    }
}

impl<K: Eq + Hash + Clone, V> Table<K, V> {
    /// The row under `key`, if the run has it.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.rows.get(key).and_then(|e| e.value.as_ref())
    }

    /// Change the row under `key`, if there is one.
    pub(crate) fn update(&mut self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some(entry) = self.rows.get_mut(key) {
            if let Some(v) = entry.value.as_mut() {
                change(v);
                entry.dirty = true;
            }
        }
    }

    /// Set the row under `key`.
    pub(crate) fn put(&mut self, key: K, value: V) {
        self.rows.insert(
            key,
            Entry {
                value: Some(value),
                dirty: true,
            },
        );
    }

    /// Remove the row under `key`.
    pub(crate) fn remove(&mut self, key: K) {
        if self.complete {
            self.rows.remove(&key);
            return;
        }
        self.rows.insert(
            key,
            Entry {
                value: None,
                dirty: true,
            },
        );
    }

    /// A row as the database holds it before the run (not a change).
    pub(crate) fn load(&mut self, key: K, value: V) {
        self.rows.entry(key).or_insert(Entry {
            value: Some(value),
            dirty: false,
        });
    }

    /// Every key the run changed (the rows to delete before writing).
    pub(crate) fn changed_keys(&self) -> Vec<K> {
        self.rows
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The rows the run changed and left present.
    pub(crate) fn changed(&self) -> impl Iterator<Item = &V> {
        self.rows
            .values()
            .filter(|e| e.dirty)
            .filter_map(|e| e.value.as_ref())
    }
}

/// Rows to write. (Boxed: an iterator of closures held across the
/// writer's awaits would make the projector's future not `Send`.)
pub(crate) type Rows<'a, R> = Box<dyn Iterator<Item = R> + Send + 'a>;

/// Write one table's changes: in [`Mode::Replace`], delete `deleted` keys
/// (by `key_column`) first; then copy `rows` in.
pub(crate) async fn write<R, K>(
    conn: &mut PgConnection,
    schema: &str,
    mode: Mode,
    key_column: &str,
    deleted: Vec<K>,
    rows: Rows<'_, R>,
) -> Result<(), sqlx::Error>
where
    R: Row,
    K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + PgHasArrayType + Send + Sync,
{
    if mode == Mode::Replace && !deleted.is_empty() {
        let sql = format!(
            "delete from {schema}.{} where {key_column} = any($1)",
            R::TABLE
        );
        sqlx::query(&sql).bind(deleted).execute(&mut *conn).await?;
    }
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let table = format!("{schema}.{}", R::TABLE);
    let mut copy = CopyIn::start(conn, &table, R::COLUMNS).await?;
    for row in rows {
        row.encode(copy.rows());
        copy.flush_if_full().await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Load rows of `R` whose `key_column` is one of `keys`.
pub(crate) async fn load<R, K>(
    conn: &mut PgConnection,
    schema: &str,
    key_column: &str,
    keys: Vec<K>,
) -> Result<Vec<R>, sqlx::Error>
where
    R: Row + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    K: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + PgHasArrayType + Send + Sync,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {} from {schema}.{} where {key_column} = any($1)",
        R::COLUMNS.join(", "),
        R::TABLE
    );
    sqlx::query_as(&sql).bind(keys).fetch_all(conn).await
}
