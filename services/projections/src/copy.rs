//! Rows in PostgreSQL's binary `COPY` format, for bulk loads: the rebuild
//! writes every read model this way, and the live projector writes each
//! batch's changed rows this way after deleting their old versions.
//!
//! The format (PostgreSQL docs, "COPY", "Binary Format"): a signature and
//! two 32-bit words, then per row a 16-bit field count and per field a
//! 32-bit length (-1 for NULL) and the value in the type's binary send
//! format, then a 16-bit -1. All integers are big-endian.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
const TEXT_OID: u32 = 25;
const UUID_OID: u32 = 2950;
/// Send to the server whenever this much is buffered.
const CHUNK: usize = 1 << 20;

/// A table's rows being encoded, sent in chunks as they fill.
pub(crate) struct CopyRows {
    buf: Vec<u8>,
    rows: u64,
}

impl CopyRows {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 64 * 1024);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyRows { buf, rows: 0 }
    }

    /// Start a row of `fields` values.
    pub(crate) fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let len = i32::try_from(bytes.len()).expect("a field is under 2 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A NULL.
    pub(crate) fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    pub(crate) fn uuid(&mut self, v: &Uuid) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub(crate) fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub(crate) fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub(crate) fn int8(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn int2(&mut self, v: i16) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }

    pub(crate) fn timestamptz(&mut self, v: &DateTime<Utc>) -> &mut Self {
        self.field(&(v.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes())
    }

    pub(crate) fn opt_timestamptz(&mut self, v: Option<&DateTime<Utc>>) -> &mut Self {
        match v {
            Some(v) => self.timestamptz(v),
            None => self.null(),
        }
    }

    pub(crate) fn date(&mut self, v: &NaiveDate) -> &mut Self {
        let days = v
            .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date"))
            .num_days();
        let days = i32::try_from(days).expect("dates stay within i32 days") - PG_EPOCH_DAYS;
        self.field(&days.to_be_bytes())
    }

    /// `jsonb`: a format version byte (1), then the JSON text.
    pub(crate) fn jsonb(&mut self, v: &Value) -> &mut Self {
        self.jsonb_of(v)
    }

    /// `jsonb` of anything that serialises, written straight into the
    /// buffer (no JSON tree in between).
    pub(crate) fn jsonb_of<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> &mut Self {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.push(1);
        serde_json::to_writer(&mut self.buf, v).expect("read-model values serialise");
        let len = i32::try_from(self.buf.len() - at - 4).expect("a field is under 2 GiB");
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }

    pub(crate) fn opt_jsonb(&mut self, v: Option<&Value>) -> &mut Self {
        match v {
            Some(v) => self.jsonb(v),
            None => self.null(),
        }
    }

    /// `text[]`, one dimension, no NULLs.
    pub(crate) fn text_array<S: AsRef<str>>(&mut self, items: &[S]) -> &mut Self {
        self.array(TEXT_OID, items.iter().map(|s| s.as_ref().as_bytes()))
    }

    /// `uuid[]`, one dimension, no NULLs.
    pub(crate) fn uuid_array(&mut self, items: &[Uuid]) -> &mut Self {
        self.array(UUID_OID, items.iter().map(|u| u.as_bytes().as_slice()))
    }

    fn array<'a>(&mut self, oid: u32, items: impl ExactSizeIterator<Item = &'a [u8]>) -> &mut Self {
        let n = i32::try_from(items.len()).expect("arrays are small");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&i32::from(n > 0).to_be_bytes()); // dimensions
        bytes.extend_from_slice(&0i32.to_be_bytes()); // has NULLs
        bytes.extend_from_slice(&oid.to_be_bytes());
        if n > 0 {
            bytes.extend_from_slice(&n.to_be_bytes());
            bytes.extend_from_slice(&1i32.to_be_bytes()); // lower bound
            for item in items {
                let len = i32::try_from(item.len()).expect("elements are small");
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.extend_from_slice(item);
            }
        }
        self.field(&bytes)
    }

    /// True when a chunk is ready to send.
    pub(crate) fn full(&self) -> bool {
        self.buf.len() >= CHUNK
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// A `COPY … FROM STDIN (FORMAT binary)` in progress on one connection.
pub(crate) struct CopyIn<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut PgConnection>,
    rows: CopyRows,
}

impl<'c> CopyIn<'c> {
    /// Start copying into `table` (schema-qualified) with `columns` in order.
    pub(crate) async fn start(
        conn: &'c mut PgConnection,
        table: &str,
        columns: &[&str],
    ) -> Result<CopyIn<'c>, sqlx::Error> {
        let sql = format!(
            "copy {table} ({}) from stdin with (format binary)",
            columns.join(", ")
        );
        let copy = conn.copy_in_raw(&sql).await?;
        Ok(CopyIn {
            copy,
            rows: CopyRows::new(),
        })
    }

    /// The row encoder; call [`CopyIn::flush_if_full`] after each row.
    pub(crate) fn rows(&mut self) -> &mut CopyRows {
        &mut self.rows
    }

    /// Send what is buffered once a chunk is full.
    pub(crate) async fn flush_if_full(&mut self) -> Result<(), sqlx::Error> {
        if self.rows.full() {
            let chunk = self.rows.take();
            self.copy.send(chunk).await?;
        }
        Ok(())
    }

    /// Send the rest and the trailer; the number of rows copied.
    pub(crate) async fn finish(mut self) -> Result<u64, sqlx::Error> {
        let mut chunk = self.rows.take();
        chunk.extend_from_slice(&(-1i16).to_be_bytes());
        self.copy.send(chunk).await?;
        let copied = self.copy.finish().await?;
        debug_assert_eq!(copied, self.rows.rows);
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_count_from_two_thousand() {
        let mut rows = CopyRows::new();
        let start = rows.buf.len();
        rows.date(&NaiveDate::from_ymd_opt(2000, 1, 2).unwrap());
        assert_eq!(&rows.buf[start..], &[0, 0, 0, 4, 0, 0, 0, 1]);
        let start = rows.buf.len();
        let t = DateTime::from_timestamp_micros(PG_EPOCH_MICROS - 1).unwrap();
        rows.timestamptz(&t);
        assert_eq!(&rows.buf[start + 4..], &(-1i64).to_be_bytes());
    }

    #[test]
    fn an_empty_array_has_no_dimensions() {
        let mut rows = CopyRows::new();
        let start = rows.buf.len();
        rows.text_array::<&str>(&[]);
        assert_eq!(
            &rows.buf[start..],
            &[0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]
        );
    }
}
