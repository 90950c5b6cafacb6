//! Session places changed in bulk: the legacy import and the history generator add the
//! attendees of many bookings to their sessions at once.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

use crate::error::AppResult;

/// Adds to each session's booked places the attendees its bookings gained (or lost),
/// raising its capacity to at least that, as `createBooking` and `cancelBooking` do: one
/// statement, and the sessions are the last rows a writer locks.
pub async fn add_places(
    conn: &impl ConnectionTrait,
    deltas: &BTreeMap<Uuid, i64>,
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    let deltas: Vec<(Uuid, i64)> = deltas
        .iter()
        .filter(|(_, d)| **d != 0)
        .map(|(id, d)| (*id, *d))
        .collect();
    for chunk in deltas.chunks(500) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (id, delta))| {
                values.extend([(*id).into(), (*delta).into()]);
                match backend {
                    DbBackend::Postgres => {
                        format!("(${}::uuid, ${}::bigint)", 2 * i + 1, 2 * i + 2)
                    }
                    _ => "(?, ?)".to_string(),
                }
            })
            .collect();
        let alias = match backend {
            DbBackend::Postgres => "v(column1, column2)",
            _ => "v",
        };
        let sql = format!(
            "UPDATE course_sessions SET booked_places = booked_places + v.column2, \
               capacity = CASE WHEN capacity < booked_places + v.column2 \
                 THEN booked_places + v.column2 ELSE capacity END \
             FROM (VALUES {}) AS {alias} WHERE course_sessions.id = v.column1",
            rows.join(", ")
        );
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
