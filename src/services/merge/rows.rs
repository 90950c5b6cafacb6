//! The rows a merge moves and the SQL that moves them, records each move, counts them,
//! locks them, and moves them back: set-based, so the statement count does not grow with
//! the rows moved.

use super::*;

/// Every column that says whose a row is. A merge moves these from the duplicates to the
/// survivor (and records each move); its undo moves them back.
///
/// Every other column that points at `users` stays where it is ([`KEPT_COLUMNS`]): those
/// record who acted (the admin who recorded a payment, the instructor who marked
/// attendance, the customer who booked while logged in), which stays true of the person
/// who acted, whose tombstone still exists to be named.
pub const MOVED_COLUMNS: &[(&str, &str)] = &[
    ("bookings", "user_id"),
    ("booking_attendees", "user_id"),
    ("payments", "user_id"),
    ("refunds", "user_id"),
    ("certificates", "user_id"),
    ("attendance_records", "user_id"),
    ("user_notes", "user_id"),
    ("user_activity_logs", "user_id"),
    // The outbox: a customer's emails are theirs, and show on the survivor's record.
    ("email_logs", "user_id"),
    // The consent history is the proof behind the consents the survivor may take from a
    // duplicate, so it follows the person.
    ("consent_events", "user_id"),
];

/// The columns pointing at `users` that a merge leaves alone: who created or changed a
/// record, recorded a payment, issued a certificate, taught or marked a session, wrote a
/// note or an audit row; a login or portal session (a tombstone's tokens are refused
/// while it is merged); a tombstone's own `merged_into_id` (a chain of merges is followed, and undone
/// one merge at a time); and the ledger's own references. A test checks that this list
/// and [`MOVED_COLUMNS`] together cover every foreign key to `users`.
pub const KEPT_COLUMNS: &[(&str, &str)] = &[
    ("users", "created_by_id"),
    ("users", "merged_into_id"),
    ("user_activity_logs", "actor_id"),
    ("user_notes", "created_by_id"),
    ("courses", "created_by_id"),
    ("courses", "updated_by_id"),
    ("course_sessions", "instructor_id"),
    ("course_sessions", "created_by_id"),
    ("course_sessions", "updated_by_id"),
    ("session_notes", "author_id"),
    ("bookings", "created_by_id"),
    ("bookings", "updated_by_id"),
    ("payments", "recorded_by_id"),
    ("refunds", "requested_by_id"),
    ("refunds", "processed_by_id"),
    ("certificates", "issued_by_id"),
    ("attendance_records", "marked_by_id"),
    ("audit_logs", "actor_id"),
    ("consent_events", "actor_id"),
    ("auth_sessions", "user_id"),
    ("portal_sessions", "user_id"),
    // An erasure stays with the profile it erased.
    ("erasures", "user_id"),
    ("user_merges", "survivor_id"),
    ("user_merges", "merged_by_id"),
    ("user_merges", "undone_by_id"),
    ("user_merge_members", "user_id"),
    ("user_merge_moves", "old_user_id"),
    ("user_merge_moves", "new_user_id"),
    // Duplicate detection's derived rows are each user's own, rebuilt by
    // `duplicates::refresh` for everyone a merge or an undo changes; a dismissal ("these two
    // are different people") stays true of the two people it names.
    ("user_match_keys", "user_id"),
    // A customer's stored insights are replaced by the next refresh; a tombstone's are never
    // read (every insight query leaves tombstones out).
    ("customer_insights", "user_id"),
    ("duplicate_pairs", "user_a"),
    ("duplicate_pairs", "user_b"),
    ("duplicate_dismissals", "user_a"),
    ("duplicate_dismissals", "user_b"),
    ("duplicate_dismissals", "dismissed_by_id"),
    // The import ledger records whom a row of an export became when it was imported: a
    // fact about that run (the import follows merges when it meets the email again).
    ("import_rows", "user_id"),
];

// ---------------------------------------------------------------------------------------
// SQL.

pub(super) use crate::services::sql::Sql;

#[derive(Debug, FromQueryResult)]
pub(super) struct TableCount {
    table_name: String,
    n: i64,
}

/// Runs a `SELECT '<table>' AS table_name, COUNT(*) AS n ... UNION ALL ...` and returns
/// the count of every table of [`MOVED_COLUMNS`], in that order.
pub(super) async fn counts_by_table(
    conn: &impl ConnectionTrait,
    stmt: Statement,
) -> AppResult<Vec<MovedCount>> {
    let rows: BTreeMap<String, i64> = TableCount::find_by_statement(stmt)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.table_name, r.n))
        .collect();
    Ok(MOVED_COLUMNS
        .iter()
        .map(|(table, _)| MovedCount {
            table: table.to_string(),
            count: rows.get(*table).copied().unwrap_or(0),
        })
        .collect())
}

/// How many rows of each table point at any of `dups`: one statement.
pub(super) async fn count_rows_of(
    conn: &impl ConnectionTrait,
    dups: &[Uuid],
) -> AppResult<Vec<MovedCount>> {
    let mut sql = Sql::default();
    let list = sql.list(dups);
    let text = MOVED_COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "SELECT '{table}' AS table_name, COUNT(*) AS n FROM {table} WHERE {column} IN ({list})"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    counts_by_table(conn, sql.statement(conn.get_database_backend(), text)).await
}

/// On PostgreSQL, locks the bookings of these users, in id order: the first lock of the
/// documented order (booking, customer, session), which payments, refunds and
/// cancellations of those bookings take too. SQLite's write transactions are serial.
pub(super) async fn lock_bookings_of(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let mut sql = Sql::default();
    let list = sql.list(user_ids);
    let text = format!("SELECT id FROM bookings WHERE user_id IN ({list}) ORDER BY id FOR UPDATE");
    conn.query_all_raw(sql.statement(backend, text)).await?;
    Ok(())
}

/// On PostgreSQL, locks the bookings a merge moved, in id order (see [`lock_bookings_of`]).
pub(super) async fn lock_moved_bookings(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(());
    }
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let text = format!(
        "SELECT id FROM bookings WHERE id IN (SELECT row_id FROM user_merge_moves \
         WHERE merge_id = {merge} AND table_name = 'bookings' AND column_name = 'user_id') \
         ORDER BY id FOR UPDATE"
    );
    conn.query_all_raw(sql.statement(backend, text)).await?;
    Ok(())
}

/// Reads these users, and on PostgreSQL locks them until commit, in id order: the second
/// lock of the documented order (after their bookings).
pub(super) async fn lock_people(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<Vec<user::Model>> {
    let mut q = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(user::Column::Id);
    if conn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    Ok(q.all(conn).await?)
}

/// Moves every row of one table that points at any of `dups` to `survivor`, recording each
/// move first: two statements, whatever the number of rows. Returns how many moved.
pub(super) async fn move_rows(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    (table, column): (&str, &str),
    survivor: Uuid,
    dups: &[Uuid],
) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let mut sql = Sql::default();
    let (merge, to) = (sql.bind(merge_id), sql.bind(survivor));
    let list = sql.list(dups);
    let record = format!(
        "INSERT INTO user_merge_moves \
           (merge_id, table_name, column_name, row_id, old_user_id, new_user_id) \
         SELECT {merge}, '{table}', '{column}', id, {column}, {to} FROM {table} \
         WHERE {column} IN ({list})"
    );
    let recorded = conn
        .execute_raw(sql.statement(backend, record))
        .await?
        .rows_affected();
    let mut sql = Sql::default();
    let to = sql.bind(survivor);
    let list = sql.list(dups);
    let update = format!("UPDATE {table} SET {column} = {to} WHERE {column} IN ({list})");
    let moved = conn
        .execute_raw(sql.statement(backend, update))
        .await?
        .rows_affected();
    if moved != recorded {
        return Err(AppError::Conflict(
            "rows changed owner while the merge was being made; try again".into(),
        ));
    }
    Ok(moved)
}

/// For each table, how many rows a merge moved are no longer where it put them: moved on
/// since, or deleted. One statement.
pub(super) async fn count_stale_moves(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
) -> AppResult<Vec<MovedCount>> {
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let text = MOVED_COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "SELECT '{table}' AS table_name, COUNT(*) AS n FROM user_merge_moves m \
                 WHERE m.merge_id = {merge} AND m.table_name = '{table}' \
                   AND m.column_name = '{column}' \
                   AND NOT EXISTS (SELECT 1 FROM {table} t \
                     WHERE t.id = m.row_id AND t.{column} = m.new_user_id)"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    counts_by_table(conn, sql.statement(conn.get_database_backend(), text)).await
}

/// Gives every row of one table a merge moved back to the owner it had: one statement.
pub(super) async fn move_back(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    (table, column): (&str, &str),
) -> AppResult<u64> {
    let mut sql = Sql::default();
    let merge = sql.bind(merge_id);
    let moves = format!(
        "FROM user_merge_moves m WHERE m.merge_id = {merge} AND m.table_name = '{table}' \
         AND m.column_name = '{column}'"
    );
    let text = format!(
        "UPDATE {table} SET {column} = (SELECT m.old_user_id {moves} AND m.row_id = {table}.id) \
         WHERE id IN (SELECT m.row_id {moves})"
    );
    Ok(conn
        .execute_raw(sql.statement(conn.get_database_backend(), text))
        .await?
        .rows_affected())
}

/// Rows made on the survivor after a merge that hang off a row its undo gives back (a
/// payment or refund of a moved booking; a certificate or attendance record of a moved
/// attendee or booking) follow that row back, by the rule their writer used: a payment and
/// a refund belong to their booking's customer, a certificate to its attendee's person or
/// else the booking's customer, an attendance record to its attendee's person. Anything
/// else made on the survivor after the merge stays with the survivor. Returns how many
/// rows followed, by table; one statement per table.
pub(super) async fn follow_back(
    conn: &impl ConnectionTrait,
    merge_id: Uuid,
    survivor: Uuid,
) -> AppResult<Vec<MovedCount>> {
    let moved = |kind: &str, merge: &str| {
        format!(
            "(SELECT row_id FROM user_merge_moves WHERE merge_id = {merge} \
             AND table_name = '{kind}' AND column_name = 'user_id')"
        )
    };
    // Each builds the UPDATE from the moved bookings' and moved attendees' subqueries.
    type Update = fn(&str, &str) -> String;
    let statements: [(&str, Update); 4] = [
        ("payments", |bookings, _| {
            format!(
                "UPDATE payments SET user_id = (SELECT b.user_id FROM bookings b \
                 WHERE b.id = payments.booking_id) WHERE booking_id IN {bookings}"
            )
        }),
        ("refunds", |bookings, _| {
            format!(
                "UPDATE refunds SET user_id = (SELECT b.user_id FROM bookings b \
                 WHERE b.id = refunds.booking_id) WHERE booking_id IN {bookings}"
            )
        }),
        ("certificates", |bookings, attendees| {
            format!(
                "UPDATE certificates SET user_id = COALESCE(\
                   (SELECT a.user_id FROM booking_attendees a WHERE a.id = certificates.attendee_id), \
                   (SELECT b.user_id FROM bookings b WHERE b.id = certificates.booking_id)) \
                 WHERE (booking_id IN {bookings} OR attendee_id IN {attendees})"
            )
        }),
        ("attendance_records", |_, attendees| {
            format!(
                "UPDATE attendance_records SET user_id = (SELECT a.user_id \
                 FROM booking_attendees a WHERE a.id = attendance_records.attendee_id) \
                 WHERE attendee_id IN {attendees}"
            )
        }),
    ];
    let mut out = Vec::new();
    for (table, update) in statements {
        let mut sql = Sql::default();
        let merge = sql.bind(merge_id);
        let owner = sql.bind(survivor);
        let text = format!(
            "{} AND user_id = {owner}",
            update(
                &moved("bookings", &merge),
                &moved("booking_attendees", &merge)
            )
        );
        let n = conn
            .execute_raw(sql.statement(conn.get_database_backend(), text))
            .await?
            .rows_affected();
        out.push(MovedCount {
            table: table.to_string(),
            count: n as i64,
        });
    }
    Ok(out)
}
