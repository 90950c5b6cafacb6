//! Merging duplicate customers, through the API, checking the rows behind every answer:
//! a merge moves every kind of row and the survivor's totals are the sum of the parts; a
//! preview writes nothing and shows what the merge then does; old ids and emails lead to
//! the survivor; each refusal writes nothing; two merges of the same people at once: one
//! wins, the other gets CONFLICT; the statement count does not grow with the rows moved;
//! an undo restores every row exactly; and a random sequence of bookings, payments,
//! refunds, merges and undos keeps stored totals equal to recomputed ones throughout.

use rft_users::entities::encrypted::RevealedText as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rft_users::entities::enums::{
    BookingStatus, PaymentMethod, PaymentRecordStatus, PaymentStatus, Role,
};
use rft_users::entities::{
    booking, booking_attendee, payment, refund, user, user_merge, user_merge_member,
    user_merge_move,
};
use rft_users::services::{customer_stats, merge};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, error_code, error_field, uuid_of};

const MERGE: &str = "mutation($input: MergeUsersInput!) { mergeUsers(input: $input) { id survivor { id email totalBookings totalSpent } duplicates { id email mergedInto { id } } fields { field value rule fromUser { id } } moved { table count } mergedBy { id } mergedAt reason undoneAt undoneBy { id } } }";
const PREVIEW: &str = "query($input: MergeUsersInput!) { mergePreview(input: $input) { survivor { id } duplicates { id } fields { field value rule fromUser { id } } moved { table count } totals { totalBookings totalSpent averageBookingValue firstBookingAt lastBookingAt } } }";
const UNMERGE: &str = "mutation($id: UUID!, $r: String) { unmergeUsers(mergeId: $id, reason: $r) { id undoneAt undoneBy { id } } }";
const HISTORY: &str = "query($u: UUID, $first: Int, $after: String) { userMerges(userId: $u, first: $first, after: $after) { edges { cursor node { id survivor { id } duplicates { id } undoneAt } } pageInfo { hasNextPage endCursor } } }";
const REQUEST_REFUND: &str = "mutation($b: UUID!, $a: Decimal!, $r: String!) { requestRefund(bookingId: $b, amount: $a, reason: $r) { id } }";
const APPROVE_REFUND: &str = "mutation($id: UUID!) { approveRefund(id: $id) { id } }";
const COMPLETE_REFUND: &str = "mutation($id: UUID!) { completeRefund(id: $id) { id } }";
const MARK: &str = "mutation($s: UUID!, $a: UUID!) { markAttendance(sessionId: $s, attendeeId: $a, status: PRESENT, passedAssessment: true) { id } }";
const ISSUE: &str = "mutation($s: UUID!) { issueCertificates(sessionId: $s) { id } }";
const NOTE: &str =
    "mutation($id: UUID!, $c: String!) { addUserNote(userId: $id, input: { content: $c }) { id } }";

// ---------------------------------------------------------------------------------------
// Whole-database snapshots.

/// Every row of every table, each column as text (`quote()` on SQLite, `::text` on
/// PostgreSQL, so no type is lost in translation), rows sorted.
type Snapshot = BTreeMap<String, Vec<BTreeMap<String, Option<String>>>>;

async fn names(app: &TestApp, sql: &str) -> Vec<String> {
    app.db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The application's tables, from the database's own catalogue (so a table added later is
/// covered without anyone remembering to list it here).
async fn tables(app: &TestApp) -> Vec<String> {
    let sql = match app.db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'users_fts%' AND name <> 'seaql_migrations' ORDER BY name"
        }
        _ => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' \
             AND tablename <> 'seaql_migrations' ORDER BY tablename"
        }
    };
    names(app, sql).await
}

async fn snapshot(app: &TestApp) -> Snapshot {
    // The mail worker's own writes (marking queued emails NOT_SENT) are done first.
    app.outbox_settled().await;
    let backend = app.db.get_database_backend();
    let mut out = Snapshot::new();
    for table in tables(app).await {
        let columns = names(
            app,
            &match backend {
                DbBackend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
                _ => format!(
                    "SELECT column_name::text AS name FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = '{table}' \
                     ORDER BY ordinal_position"
                ),
            },
        )
        .await;
        let select = columns
            .iter()
            .map(|c| match backend {
                DbBackend::Sqlite => format!("quote(\"{c}\") AS \"{c}\""),
                _ => format!("CAST(\"{c}\" AS TEXT) AS \"{c}\""),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT {select} FROM {table}"),
            ))
            .await
            .unwrap();
        let mut rows: Vec<BTreeMap<String, Option<String>>> = rows
            .iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| (c.clone(), r.try_get::<Option<String>>("", c).unwrap()))
                    .collect()
            })
            .collect();
        rows.sort_by_key(|r| format!("{r:?}"));
        out.insert(table, rows);
    }
    out
}

/// The tables only the merge's own bookkeeping adds rows to (and which an undo leaves):
/// the ledger, the audit trail, and the consent history (a merge that changes the
/// survivor's consents records it, and so does its undo that changes them back).
const LEDGER_TABLES: [&str; 5] = [
    "user_merges",
    "user_merge_members",
    "user_merge_moves",
    "audit_logs",
    "consent_events",
];

/// Asserts that `after` holds every row of `before` exactly, ignoring only the
/// `updated_at` of `users`, `user_match_keys` and `duplicate_pairs` (a merge and its undo
/// both change those rows, and say when); the only
/// rows it may hold besides are the ledger's and audit trail's, and the survivor's
/// `profiles_merged` and `profiles_unmerged` activity entries.
fn assert_restored(before: &Snapshot, after: &Snapshot, context: &str) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let strip = |table: &str, rows: &[BTreeMap<String, Option<String>>]| {
        let mut rows: Vec<_> = rows
            .iter()
            .filter(|r| {
                table != "user_activity_logs"
                    || !r["activity_type"].as_deref().is_some_and(|t| {
                        t.contains("profiles_merged") || t.contains("profiles_unmerged")
                    })
            })
            .cloned()
            .map(|mut r| {
                // Derived rows (matching keys, candidate pairs) are rewritten by the
                // merge and the undo and say when; their content must come back exactly.
                if matches!(table, "users" | "user_match_keys" | "duplicate_pairs") {
                    r.remove("updated_at");
                }
                r
            })
            .collect();
        rows.sort_by_key(|r| format!("{r:?}"));
        rows
    };
    for (table, rows) in before {
        let (was, now) = (strip(table, rows), strip(table, &after[table]));
        if LEDGER_TABLES.contains(&table.as_str()) {
            let now: BTreeSet<String> = now.iter().map(|r| format!("{r:?}")).collect();
            for r in &was {
                assert!(
                    now.contains(&format!("{r:?}")),
                    "{context}: {table} lost or changed {r:?}"
                );
            }
        } else {
            assert_eq!(was.len(), now.len(), "{context}: rows of {table}");
            for (b, a) in was.iter().zip(&now) {
                assert_eq!(b, a, "{context}: a row of {table} differs");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// A shop and its customers.

struct Shop {
    app: TestApp,
    admin: String,
    admin_id: Uuid,
    /// Future sessions, with room for everyone.
    sessions: Vec<Uuid>,
}

impl Shop {
    async fn open() -> Self {
        let app = TestApp::spawn().await;
        Self::open_on(app).await
    }

    async fn open_on(app: TestApp) -> Self {
        let (admin_row, admin) = app.admin().await;
        let catalogue = app.catalogue(&admin).await;
        let mut sessions = Vec::new();
        for (i, course) in [catalogue.efaw, catalogue.faw].into_iter().enumerate() {
            sessions.push(
                app.create_session(
                    &admin,
                    course,
                    catalogue.leeds,
                    None,
                    10 + i as i64,
                    Some(500),
                )
                .await,
            );
        }
        Self {
            app,
            admin,
            admin_id: admin_row.id,
            sessions,
        }
    }

    /// Books `places` on session `s` for `email`; returns the booking id and its customer.
    async fn book(&self, s: usize, email: &str, places: usize) -> (Uuid, Uuid) {
        let b = uuid_of(
            &self
                .app
                .book_ok(None, self.sessions[s], email, places)
                .await["id"],
        );
        (b, booking_row(&self.app, b).await.user_id)
    }

    async fn pay(&self, booking: Uuid, amount: &str) {
        let body = self.app.pay(&self.admin, booking, amount, "CARD").await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }

    /// Requests, approves and completes a refund of `amount`.
    async fn refund(&self, booking: Uuid, amount: &str) -> Value {
        let body = self
            .app
            .gql(
                REQUEST_REFUND,
                json!({ "b": booking, "a": amount, "r": "Dropped out" }),
                Some(&self.admin),
            )
            .await;
        let Some(id) = body["data"]["requestRefund"]["id"].as_str() else {
            return body;
        };
        for step in [APPROVE_REFUND, COMPLETE_REFUND] {
            let done = self
                .app
                .gql(step, json!({ "id": id }), Some(&self.admin))
                .await;
            if done.get("errors").is_some() {
                return done;
            }
        }
        body
    }

    async fn merge(&self, survivor: Uuid, dups: &[Uuid]) -> Value {
        self.app
            .gql(
                MERGE,
                json!({ "input": { "survivorId": survivor, "duplicateIds": dups, "reason": "Same person" } }),
                Some(&self.admin),
            )
            .await
    }

    async fn merge_ok(&self, survivor: Uuid, dups: &[Uuid]) -> Value {
        let body = self.merge(survivor, dups).await;
        assert!(body.get("errors").is_none(), "merge failed: {body:#}");
        body["data"]["mergeUsers"].clone()
    }

    async fn unmerge(&self, merge_id: Uuid) -> Value {
        self.app
            .gql(
                UNMERGE,
                json!({ "id": merge_id, "r": "Two different people" }),
                Some(&self.admin),
            )
            .await
    }
}

async fn booking_row(app: &TestApp, id: Uuid) -> booking::Model {
    booking::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .expect("booking")
}

/// How many rows of each table of `MOVED_COLUMNS` belong to `user`.
async fn owned_by(app: &TestApp, user: Uuid) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for (table, column) in merge::MOVED_COLUMNS {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE {column} = {}",
            match app.db.get_database_backend() {
                DbBackend::Postgres => "$1",
                _ => "?",
            }
        );
        let row = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                sql,
                [user.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        out.insert(table.to_string(), row.try_get::<i64>("", "n").unwrap());
    }
    out
}

/// Asserts stored counters equal recomputed ones for everyone, and that no booking,
/// payment or refund belongs to a tombstone or to someone other than its booking's owner.
async fn assert_consistent(app: &TestApp, context: &str) {
    let wrong = customer_stats::diff(&app.db).await.unwrap();
    assert!(wrong.is_empty(), "{context}: counters differ: {wrong:#?}");
    let users: BTreeMap<Uuid, user::Model> = app
        .all_users()
        .await
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let bookings: BTreeMap<Uuid, booking::Model> = booking::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    for b in bookings.values() {
        assert!(
            users[&b.user_id].merged_into_id.is_none(),
            "{context}: booking {} is on a tombstone",
            b.id
        );
    }
    for p in payment::Entity::find().all(&app.db).await.unwrap() {
        assert_eq!(
            p.user_id, bookings[&p.booking_id].user_id,
            "{context}: payment {} is not its booking's customer's",
            p.id
        );
    }
    for r in refund::Entity::find().all(&app.db).await.unwrap() {
        assert_eq!(
            r.user_id, bookings[&r.booking_id].user_id,
            "{context}: refund {} is not its booking's customer's",
            r.id
        );
    }
    for u in users.values().filter(|u| u.merged_into_id.is_some()) {
        assert_eq!(
            (u.total_bookings, u.total_spent_pence),
            (0, 0),
            "{context}: tombstone {} has counters",
            u.id
        );
    }
}

/// Inserts `n` bookings of `user` on `session` directly, each with one attendee (the
/// customer) and one succeeded payment, then recomputes the customer's counters: bulk data
/// for the statement-count and timing tests, which are about how many rows move, not how
/// they came.
async fn seed_bookings(app: &TestApp, user: Uuid, session: Uuid, n: usize) {
    let now = Utc::now();
    let tag = &user.simple().to_string()[24..];
    for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
        let mut bookings = Vec::new();
        let mut attendees = Vec::new();
        let mut payments = Vec::new();
        for &i in chunk {
            let id = Uuid::now_v7();
            bookings.push(
                booking::Model {
                    id,
                    user_id: user,
                    session_id: session,
                    reference: format!("S{tag}{i:06}"),
                    status: BookingStatus::Confirmed,
                    payment_status: PaymentStatus::Paid,
                    unit_price_pence: 9_500,
                    discount_pence: 0,
                    total_amount_pence: 9_500,
                    amount_paid_pence: 9_500,
                    amount_refunded_pence: 0,
                    number_of_attendees: 1,
                    special_requirements: None,
                    contact_details: None,
                    legacy_id: None,
                    legacy_reference: None,
                    confirmation_sent: false,
                    reminder_sent: false,
                    certificate_issued: false,
                    cancelled_at: None,
                    cancellation_reason: None,
                    created_by_id: None,
                    updated_by_id: None,
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model()
                .reset_all(),
            );
            attendees.push(
                booking_attendee::Model {
                    id: Uuid::now_v7(),
                    booking_id: id,
                    user_id: Some(user),
                    first_name: "Casey".into(),
                    last_name: "Booker".into(),
                    email: None,
                    phone: None,
                    special_requirements: None,
                    created_at: now,
                }
                .into_active_model()
                .reset_all(),
            );
            payments.push(
                payment::Model {
                    id: Uuid::now_v7(),
                    booking_id: id,
                    user_id: user,
                    stripe_payment_intent_id: None,
                    amount_pence: 9_500,
                    currency: "GBP".into(),
                    status: PaymentRecordStatus::Succeeded,
                    method: PaymentMethod::Card,
                    recorded_by_id: None,
                    paid_at: Some(now),
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model()
                .reset_all(),
            );
        }
        booking::Entity::insert_many(bookings)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        booking_attendee::Entity::insert_many(attendees)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        payment::Entity::insert_many(payments)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    customer_stats::recompute(&app.db, &[user]).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// The merge.

#[tokio::test]
async fn merge_moves_every_kind_of_row_and_the_totals_are_the_sum_of_the_parts() {
    let shop = Shop::open().await;
    let app = &shop.app;
    // The survivor: one paid booking, a note.
    let (s_booking, survivor) = shop.book(0, "sam.smith@example.com", 1).await;
    shop.pay(s_booking, "95.00").await;
    app.gql_ok(
        NOTE,
        json!({ "id": survivor, "c": "Called about invoices" }),
        Some(&shop.admin),
    )
    .await;
    // The duplicate: two bookings (one with a guest), payments, a completed refund, an
    // attended session with a certificate, a note.
    let (d_booking, dup) = shop.book(0, "sam.smith+work@example.com", 2).await;
    let (d_second, _) = shop.book(1, "sam.smith+work@example.com", 1).await;
    shop.pay(d_booking, "190.00").await;
    shop.pay(d_second, "150.00").await;
    let refund = shop.refund(d_booking, "40.00").await;
    assert!(refund.get("errors").is_none(), "{refund:#}");
    app.gql_ok(
        NOTE,
        json!({ "id": dup, "c": "Prefers mornings" }),
        Some(&shop.admin),
    )
    .await;
    // Consent history: marketing given, then withdrawn (so the merge changes no consent of
    // the survivor, and adds no history of its own).
    for consent in [true, false] {
        app.gql_ok(
            "mutation($id: UUID!, $c: Boolean!) { updateUser(id: $id, input: { marketingConsent: $c }) { id } }",
            json!({ "id": dup, "c": consent }),
            Some(&shop.admin),
        )
        .await;
    }
    app.move_session(shop.sessions[1], -1).await;
    let attendee = booking_attendee::Entity::find()
        .filter(booking_attendee::Column::BookingId.eq(d_second))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attendee.user_id, Some(dup));
    app.gql_ok(
        MARK,
        json!({ "s": shop.sessions[1], "a": attendee.id }),
        Some(&shop.admin),
    )
    .await;
    app.gql_ok(ISSUE, json!({ "s": shop.sessions[1] }), Some(&shop.admin))
        .await;
    // A second duplicate with nothing but a profile.
    let (_, empty_dup_token) = app.customer("s.smith@example.com").await;
    drop(empty_dup_token);
    let empty_dup = rft_users::services::users::find_by_email(&app.db, "s.smith@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;

    assert_consistent(app, "before the merge").await;
    let dup_had = owned_by(app, dup).await;
    for (table, n) in &dup_had {
        assert!(*n > 0, "the duplicate has no {table} to move");
    }
    let empty_had = owned_by(app, empty_dup).await;
    let had: BTreeMap<String, i64> = dup_had
        .iter()
        .map(|(t, n)| (t.clone(), n + empty_had[t]))
        .collect();
    let survivor_had = owned_by(app, survivor).await;
    let parts: Vec<user::Model> = [survivor, dup, empty_dup]
        .iter()
        .map(|id| async move { app.user_row(*id).await })
        .collect::<futures::future::JoinAll<_>>()
        .await;
    let counts_before: BTreeMap<String, i64> = {
        let mut m = BTreeMap::new();
        for t in [
            "bookings",
            "payments",
            "refunds",
            "certificates",
            "user_notes",
            "users",
        ] {
            m.insert(t.to_string(), app.count(t).await);
        }
        m
    };

    let merged = shop.merge_ok(survivor, &[dup, empty_dup]).await;
    let merge_id = uuid_of(&merged["id"]);

    // Every row moved, and nothing else did.
    let now_survivor = owned_by(app, survivor).await;
    for (table, n) in &had {
        // The survivor also gains one activity entry: the merge's own.
        let own = i64::from(table == "user_activity_logs");
        assert_eq!(
            now_survivor[table],
            survivor_had[table] + n + own,
            "{table}"
        );
        assert_eq!(
            owned_by(app, dup).await[table],
            0,
            "{table} left on the tombstone"
        );
        assert_eq!(
            owned_by(app, empty_dup).await[table],
            0,
            "{table} left on the tombstone"
        );
    }
    for (table, n) in &counts_before {
        assert_eq!(
            app.count(table).await,
            *n,
            "{table}: no row created or lost"
        );
    }
    let moved: BTreeMap<String, i64> = merged["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["table"].as_str().unwrap().to_string(),
                m["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(moved, had, "moved counts per table");

    // Totals: the sum of the parts, as recomputed; the tombstones at zero.
    let s = app.user_row(survivor).await;
    assert_eq!(
        s.total_bookings,
        parts.iter().map(|p| p.total_bookings).sum::<i32>()
    );
    assert_eq!(
        s.total_spent_pence,
        parts.iter().map(|p| p.total_spent_pence).sum::<i64>()
    );
    assert_eq!(s.total_spent_pence, 9_500 + 19_000 + 15_000 - 4_000);
    assert_eq!(
        s.first_booking_at,
        parts.iter().filter_map(|p| p.first_booking_at).min()
    );
    assert_eq!(
        s.last_booking_at,
        parts.iter().filter_map(|p| p.last_booking_at).max()
    );
    assert_eq!(merged["survivor"]["totalSpent"], "395.00");
    assert_consistent(app, "after the merge").await;
    for id in [dup, empty_dup] {
        let t = app.user_row(id).await;
        assert_eq!(
            t.merged_into_id,
            Some(survivor),
            "a tombstone, never deleted"
        );
        assert_eq!(t.email, parts.iter().find(|p| p.id == id).unwrap().email);
    }
    assert_eq!(
        merged["duplicates"],
        json!([
            { "id": dup, "email": "sam.smith+work@example.com", "mergedInto": { "id": survivor } },
            { "id": empty_dup, "email": "s.smith@example.com", "mergedInto": { "id": survivor } },
        ])
    );
    assert_eq!(merged["mergedBy"]["id"], json!(shop.admin_id));
    assert_eq!(merged["reason"], "Same person");
    assert!(merged["undoneAt"].is_null());

    // The ledger: the entry, its people, and one move per row moved.
    let entry = user_merge::Entity::find_by_id(merge_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.survivor_id, survivor);
    assert_eq!(entry.duplicate_ids, json!([dup, empty_dup]));
    assert_eq!(entry.survivor_before["email"], "sam.smith@example.com");
    assert_eq!(
        entry.duplicates_before[dup.to_string()]["total_spent_pence"],
        json!(19_000 + 15_000 - 4_000)
    );
    let members = user_merge_member::Entity::find()
        .filter(user_merge_member::Column::MergeId.eq(merge_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(members.len(), 3);
    assert_eq!(
        members
            .iter()
            .filter(|m| m.is_survivor)
            .map(|m| m.user_id)
            .collect::<Vec<_>>(),
        [survivor]
    );
    let moves = user_merge_move::Entity::find()
        .filter(user_merge_move::Column::MergeId.eq(merge_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(moves.len() as i64, had.values().sum::<i64>());
    assert!(
        moves
            .iter()
            .all(|m| [dup, empty_dup].contains(&m.old_user_id) && m.new_user_id == survivor)
    );

    // One audit row and one activity on the survivor; medical text never in the audit.
    let audit = app.audit_rows("user.merge").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entity_id, Some(survivor));
    assert_eq!(
        audit[0].changes.as_ref().unwrap()["mergeId"],
        json!(merge_id)
    );
    let activity: Vec<_> = rft_users::entities::user_activity_log::Entity::find()
        .filter(rft_users::entities::user_activity_log::Column::ActivityType.eq("profiles_merged"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].user_id, survivor);
    assert_eq!(activity[0].related_entity_id, Some(merge_id));
    // Both notes are on the survivor's page now.
    let notes = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { notes { edges { node { content } } } mergedFrom { id } } }",
            json!({ "id": survivor }),
            Some(&shop.admin),
        )
        .await;
    let texts: BTreeSet<&str> = notes["user"]["notes"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        BTreeSet::from(["Called about invoices", "Prefers mornings"])
    );
    assert_eq!(
        notes["user"]["mergedFrom"],
        json!([{ "id": dup }, { "id": empty_dup }])
    );
}

#[tokio::test]
async fn merge_fields_follow_the_rule_and_medical_text_stays_out_of_the_audit_trail() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, survivor) = shop.book(0, "ann@example.com", 1).await;
    let (_, dup) = shop.book(0, "ann.work@example.com", 1).await;
    let update = "mutation($id: UUID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }";
    app.gql_ok(
        update,
        json!({ "id": survivor, "input": { "city": "Leeds", "marketingConsent": true, "adminNotes": "Pays late" } }),
        Some(&shop.admin),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The duplicate was updated last: its consent is the most recent choice.
    app.gql_ok(
        update,
        json!({ "id": dup, "input": {
            "addressLine1": "1 Work Street", "city": "York", "postcode": "YO1 7HH",
            "mobile": "07700 900123", "companyName": "Acme Ltd", "marketingConsent": false,
            "medicalNotes": "Asthma", "hasMedicalConditions": true, "adminNotes": "Corporate account",
        } }),
        Some(&shop.admin),
    )
    .await;
    let input = json!({ "survivorId": survivor, "duplicateIds": [dup],
        "fieldChoices": [{ "field": "PHONE", "fromUserId": dup }] });
    let preview = app
        .gql_ok(PREVIEW, json!({ "input": input }), Some(&shop.admin))
        .await;
    let fields: BTreeMap<String, Value> = preview["mergePreview"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_string(), f.clone()))
        .collect();
    let field = |name: &str| (fields[name]["value"].clone(), fields[name]["rule"].clone());
    let from = |name: &str| uuid_of(&fields[name]["fromUser"]["id"]);
    assert_eq!(field("CITY"), (json!("Leeds"), json!("SURVIVOR")));
    assert_eq!(
        field("POSTCODE"),
        (Value::Null, json!("SURVIVOR")),
        "the address comes whole from the survivor"
    );
    assert_eq!(
        field("MOBILE"),
        (json!("07700 900123"), json!("MOST_RECENT_DUPLICATE"))
    );
    assert_eq!(from("MOBILE"), dup);
    assert_eq!(field("COMPANY_NAME").0, json!("Acme Ltd"));
    assert_eq!(field("PHONE").1, json!("ADMIN_CHOICE"));
    assert_eq!(from("PHONE"), dup);
    assert_eq!(
        field("MARKETING_CONSENT"),
        (json!("false"), json!("MOST_RECENT_CHOICE"))
    );
    assert_eq!(field("MEDICAL_NOTES").0, json!("Asthma"));
    assert_eq!(
        field("ADMIN_NOTES"),
        (
            json!("Pays late\n\n[Merged from ann.work@example.com] Corporate account"),
            json!("ALL_KEPT")
        )
    );
    assert_eq!(field("CUSTOMER_TYPE").0, json!("INDIVIDUAL"));

    let merged = app
        .gql_ok(MERGE, json!({ "input": input }), Some(&shop.admin))
        .await;
    assert_eq!(
        merged["mergeUsers"]["fields"],
        preview["mergePreview"]["fields"]
    );
    let s = app.user_row(survivor).await;
    assert_eq!(s.city.as_deref(), Some("Leeds"));
    assert_eq!(s.mobile.as_deref(), Some("07700 900123"));
    assert_eq!(s.medical_notes.plain_str(), Some("Asthma"));
    assert!(!s.marketing_consent, "never true by default");
    assert_eq!(s.email, "ann@example.com", "the survivor keeps its email");
    let audit = app.audit_rows("user.merge").await;
    let text = audit[0].changes.as_ref().unwrap().to_string();
    assert!(
        !text.contains("Asthma"),
        "medical text in the audit: {text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
}

#[tokio::test]
async fn merge_preview_writes_nothing_and_shows_what_the_merge_does() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (b1, survivor) = shop.book(0, "bo@example.com", 1).await;
    shop.pay(b1, "95.00").await;
    let (b2, dup) = shop.book(1, "bo@example.org", 3).await;
    shop.pay(b2, "200.00").await;
    shop.refund(b2, "25.00").await;
    let input = json!({ "survivorId": survivor, "duplicateIds": [dup] });

    let before = snapshot(app).await;
    let preview = app
        .gql_ok(PREVIEW, json!({ "input": input }), Some(&shop.admin))
        .await["mergePreview"]
        .clone();
    assert_eq!(snapshot(app).await, before, "the preview wrote something");

    let merged = app
        .gql_ok(MERGE, json!({ "input": input }), Some(&shop.admin))
        .await["mergeUsers"]
        .clone();
    assert_eq!(preview["fields"], merged["fields"]);
    assert_eq!(preview["moved"], merged["moved"]);
    let s = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { totalBookings totalSpent averageBookingValue firstBookingAt lastBookingAt } }",
            json!({ "id": survivor }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(preview["totals"], s["user"]);
    assert_eq!(preview["totals"]["totalSpent"], "270.00");
    assert_eq!(preview["totals"]["totalBookings"], 2);
}

#[tokio::test]
async fn old_ids_and_emails_lead_to_the_survivor_and_lists_show_only_the_survivor() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, a) = shop.book(0, "cara@example.com", 1).await;
    let (_, b) = shop.book(0, "cara.old@example.com", 1).await;
    let (_, c) = shop.book(0, "cara.older@example.com", 1).await;
    shop.merge_ok(b, &[c]).await;
    shop.merge_ok(a, &[b]).await; // a chain: c -> b -> a

    for id in [a, b, c] {
        let data = app
            .gql_ok(
                "query($id: UUID!) { user(id: $id) { id email } }",
                json!({ "id": id }),
                Some(&shop.admin),
            )
            .await;
        assert_eq!(data["user"]["id"], json!(a), "user({id})");
    }
    for email in [
        "cara@example.com",
        " CARA.OLD@example.com",
        "cara.older@example.com",
    ] {
        let data = app
            .gql_ok(
                "query($e: String!) { userByEmail(email: $e) { id } }",
                json!({ "e": email }),
                Some(&shop.admin),
            )
            .await;
        assert_eq!(data["userByEmail"]["id"], json!(a), "userByEmail({email})");
    }

    // A change made with an old id lands on the survivor; the tombstone is left as it was.
    let changed = app
        .gql_ok(
            "mutation($id: UUID!) { updateUser(id: $id, input: { city: \"Ripon\" }) { id city } }",
            json!({ "id": c }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(changed["updateUser"], json!({ "id": a, "city": "Ripon" }));
    assert_eq!(app.user_row(c).await.city, None);

    // A booking made afterwards with an old email lands on the survivor.
    let before = app.user_row(a).await.total_bookings;
    let (late, owner) = shop.book(1, "cara.older@example.com", 1).await;
    assert_eq!(owner, a);
    assert_eq!(app.user_row(a).await.total_bookings, before + 1);
    assert_eq!(app.user_row(c).await.total_bookings, 0);
    let attendee = booking_attendee::Entity::find()
        .filter(booking_attendee::Column::BookingId.eq(late))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attendee.user_id, Some(a));
    assert_consistent(app, "after a booking with an old email").await;

    // Search and lists show only the survivor, unless asked for merged profiles.
    let admin = shop.admin.as_str();
    let search = |filter: Value| async move {
        app.gql_ok(
            "query($f: UserFilter) { users(search: \"cara\", filter: $f, first: 10) { totalCount edges { node { id } } } }",
            json!({ "f": filter }),
            Some(admin),
        )
        .await
    };
    let shown = search(Value::Null).await;
    assert_eq!(shown["users"]["totalCount"], 1);
    assert_eq!(shown["users"]["edges"], json!([{ "node": { "id": a } }]));
    let all = search(json!({ "includeMerged": true })).await;
    assert_eq!(all["users"]["totalCount"], 3);
    let listed = app
        .gql_ok(
            "{ users(first: 100) { totalCount edges { node { id } } } }",
            json!({}),
            Some(&shop.admin),
        )
        .await;
    let ids: Vec<Value> = listed["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert!(ids.contains(&json!(a)));
    assert!(!ids.contains(&json!(b)) && !ids.contains(&json!(c)));

    // mergedFrom: direct tombstones only; a page of users costs no statement per user.
    let tree = app
        .gql_ok(
            "query($id: UUID!) { user(id: $id) { mergedFrom { id mergedFrom { id } } } }",
            json!({ "id": a }),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(
        tree["user"]["mergedFrom"],
        json!([{ "id": b, "mergedFrom": [{ "id": c }] }])
    );
}

#[tokio::test]
async fn merged_from_on_a_page_of_users_costs_one_statement() {
    let counter = Arc::new(AtomicUsize::new(0));
    let shop = Shop::open_on(TestApp::spawn_counting(counter.clone()).await).await;
    let page = "{ users(first: 50, filter: { includeMerged: true }) { edges { node { id mergedFrom { id } } } } }";
    let mut statements = Vec::new();
    for n in [1usize, 6] {
        for i in 0..n {
            let (_, s) = shop.book(0, &format!("s{n}_{i}@example.com"), 1).await;
            let (_, d) = shop.book(0, &format!("d{n}_{i}@example.com"), 1).await;
            shop.merge_ok(s, &[d]).await;
        }
        shop.app.gql_ok(page, json!({}), Some(&shop.admin)).await;
        let mut counts = Vec::new();
        for _ in 0..3 {
            counter.store(0, Ordering::SeqCst);
            shop.app.gql_ok(page, json!({}), Some(&shop.admin)).await;
            counts.push(counter.load(Ordering::SeqCst));
        }
        statements.push(counts.into_iter().min().unwrap());
    }
    assert_eq!(statements[0], statements[1], "{statements:?}");
}

// ---------------------------------------------------------------------------------------
// Refusals.

#[tokio::test]
async fn merge_refusals_name_the_field_and_write_nothing() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, s) = shop.book(0, "dee@example.com", 1).await;
    let (_, d) = shop.book(0, "dee2@example.com", 1).await;
    let (_, t) = shop.book(0, "dee3@example.com", 1).await;
    let (_, u) = shop.book(0, "dee4@example.com", 1).await;
    shop.merge_ok(u, &[t]).await; // t is a tombstone now
    let (instructor, _) = app.staff(Role::Instructor, "ivy@example.com").await;
    let unknown = Uuid::now_v7();
    let eleven: Vec<Uuid> = (0..11).map(|_| Uuid::now_v7()).collect();

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no duplicates",
            json!({ "survivorId": s, "duplicateIds": [] }),
            "duplicateIds",
        ),
        (
            "more than 10",
            json!({ "survivorId": s, "duplicateIds": eleven }),
            "duplicateIds",
        ),
        (
            "unknown duplicate",
            json!({ "survivorId": s, "duplicateIds": [d, unknown] }),
            "duplicateIds.1",
        ),
        (
            "unknown survivor",
            json!({ "survivorId": unknown, "duplicateIds": [d] }),
            "survivorId",
        ),
        (
            "given twice",
            json!({ "survivorId": s, "duplicateIds": [d, d] }),
            "duplicateIds.1",
        ),
        (
            "survivor among duplicates",
            json!({ "survivorId": s, "duplicateIds": [s] }),
            "duplicateIds.0",
        ),
        (
            "tombstone duplicate",
            json!({ "survivorId": s, "duplicateIds": [t] }),
            "duplicateIds.0",
        ),
        (
            "tombstone survivor",
            json!({ "survivorId": t, "duplicateIds": [d] }),
            "survivorId",
        ),
        (
            "staff duplicate",
            json!({ "survivorId": s, "duplicateIds": [instructor.id] }),
            "duplicateIds.0",
        ),
        (
            "admin survivor",
            json!({ "survivorId": shop.admin_id, "duplicateIds": [d] }),
            "survivorId",
        ),
        (
            "choice from an outsider",
            json!({ "survivorId": s, "duplicateIds": [d], "fieldChoices": [{ "field": "PHONE", "fromUserId": u }] }),
            "fieldChoices.0.fromUserId",
        ),
        (
            "choice of notes",
            json!({ "survivorId": s, "duplicateIds": [d], "fieldChoices": [{ "field": "ADMIN_NOTES", "fromUserId": d }] }),
            "fieldChoices.0.field",
        ),
        (
            "field chosen twice",
            json!({ "survivorId": s, "duplicateIds": [d], "fieldChoices": [
                { "field": "PHONE", "fromUserId": d }, { "field": "PHONE", "fromUserId": s }] }),
            "fieldChoices.1.field",
        ),
        (
            "reason too long",
            json!({ "survivorId": s, "duplicateIds": [d], "reason": "x".repeat(2001) }),
            "reason",
        ),
    ];
    let before = snapshot(app).await;
    for (name, input, field) in cases {
        for query in [MERGE, PREVIEW] {
            let body = app
                .gql(query, json!({ "input": input }), Some(&shop.admin))
                .await;
            assert_eq!(
                error_code(&body),
                Some("BAD_USER_INPUT"),
                "{name}: {body:#}"
            );
            assert_eq!(error_field(&body), Some(field), "{name}: {body:#}");
        }
    }
    assert_eq!(
        snapshot(app).await,
        before,
        "a refused merge wrote something"
    );
}

#[tokio::test]
async fn unmerge_refusals_write_nothing() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, s) = shop.book(0, "eve@example.com", 1).await;
    let (_, d) = shop.book(0, "eve2@example.com", 1).await;
    let (_, e) = shop.book(0, "eve3@example.com", 1).await;
    let (_, t) = shop.book(0, "eve4@example.com", 1).await;
    let first = uuid_of(&shop.merge_ok(s, &[d]).await["id"]);
    let second = uuid_of(&shop.merge_ok(s, &[e]).await["id"]);

    let before = snapshot(app).await;
    let body = shop.unmerge(Uuid::now_v7()).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body:#}");
    // The second merge involves the same survivor and is still in force.
    let body = shop.unmerge(first).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert!(body.to_string().contains(&second.to_string()), "{body:#}");
    assert_eq!(snapshot(app).await, before);

    // Undo the later one, then the first can go.
    let body = shop.unmerge(second).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let body = shop.unmerge(second).await;
    assert_eq!(
        error_code(&body),
        Some("CONFLICT"),
        "already undone: {body:#}"
    );

    // A moved row that has since moved on (the survivor merged into someone else).
    let third = uuid_of(&shop.merge_ok(t, &[s]).await["id"]);
    let body = shop.unmerge(first).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    shop.unmerge(third).await;
    // A moved row deleted since.
    let note = app
        .gql_ok(
            NOTE,
            json!({ "id": d, "c": "Note on the duplicate" }),
            Some(&shop.admin),
        )
        .await;
    let note_id = uuid_of(&note["addUserNote"]["id"]);
    assert_eq!(
        rft_users::entities::user_note::Entity::find_by_id(note_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .user_id,
        s,
        "a note added with a tombstone's id goes to its survivor"
    );
    let fourth = uuid_of(&shop.merge_ok(e, &[s]).await["id"]);
    rft_users::entities::user_note::Entity::delete_by_id(note_id)
        .exec(&app.db)
        .await
        .unwrap();
    let before = snapshot(app).await;
    let body = shop.unmerge(fourth).await;
    assert_eq!(error_code(&body), Some("CONFLICT"), "{body:#}");
    assert!(error_message_contains(&body, "1 user_notes"), "{body:#}");
    assert_eq!(snapshot(app).await, before);
    assert_consistent(app, "after the refusals").await;
}

fn error_message_contains(body: &Value, text: &str) -> bool {
    body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains(text))
}

/// How many of the statements in `log` are a merge's check of its people before its
/// transaction (a plain `SELECT` of the users by id; the locking read under the
/// transaction is ordered by id).
fn prechecks(log: &std::sync::Mutex<Vec<String>>) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|sql| sql.contains(r#"FROM "users" WHERE "users"."id" IN ("#))
        .filter(|sql| !sql.contains("ORDER BY"))
        .count()
}

#[tokio::test]
async fn two_merges_of_the_same_people_at_once_one_wins_the_other_conflicts() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let shop = Shop::open_on(TestApp::spawn_recording(log.clone()).await).await;
    let app = &shop.app;
    let (_, a) = shop.book(0, "fay@example.com", 1).await;
    let (_, b) = shop.book(0, "fay.b@example.com", 1).await;
    let (_, c) = shop.book(0, "fay.c@example.com", 1).await;
    seed_bookings(app, b, shop.sessions[1], 50).await;
    seed_bookings(app, a, shop.sessions[1], 50).await;
    let before = row_counts(app).await;
    let mut had = BTreeMap::new();
    for id in [a, b, c] {
        had.insert(id, owned_by(app, id).await["bookings"]);
    }

    // The same duplicate into two survivors, and two people into each other.
    for (first, second) in [((a, b), (c, b)), ((a, c), (c, a))] {
        // "At once", made certain: both merges pass their checks before either begins to
        // write. A gate holds the writers back (SQLite: the write lock; PostgreSQL: the
        // people's rows) until both have checked, then lets them race.
        let gate = rft_users::db::begin_write(&app.db).await.unwrap();
        if app.db.get_database_backend() == DbBackend::Postgres {
            gate.query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM users WHERE id IN ($1, $2, $3) FOR UPDATE",
                [a.into(), b.into(), c.into()],
            ))
            .await
            .unwrap();
        }
        log.lock().unwrap().clear();
        let open_gate = async {
            let deadline = Instant::now() + Duration::from_secs(30);
            while prechecks(&log) < 2 {
                assert!(
                    Instant::now() < deadline,
                    "the merges never checked their input"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            gate.rollback().await.unwrap();
        };
        let (one, other) = ([first.1], [second.1]);
        let (x, y, ()) = tokio::join!(
            shop.merge(first.0, &one),
            shop.merge(second.0, &other),
            open_gate
        );
        let outcomes = [error_code(&x), error_code(&y)];
        assert!(
            outcomes == [None, Some("CONFLICT")] || outcomes == [Some("CONFLICT"), None],
            "{:#}\n{:#}",
            x["errors"],
            y["errors"]
        );
        assert_consistent(app, "after two merges at once").await;
        assert_eq!(row_counts(app).await, before, "no row lost");
        let (won, pair) = match outcomes[0] {
            None => (&x, first),
            Some(_) => (&y, second),
        };
        let survivor = uuid_of(&won["data"]["mergeUsers"]["survivor"]["id"]);
        assert_eq!(survivor, pair.0);
        assert_eq!(
            i64::from(app.user_row(survivor).await.total_bookings),
            had[&pair.0] + had[&pair.1],
            "everything of the two people, on the winner's survivor"
        );
        // Start the next round from a clean state.
        let body = shop
            .unmerge(uuid_of(&won["data"]["mergeUsers"]["id"]))
            .await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    assert_eq!(app.count("user_merges").await, 2);
}

/// How many rows each table of `MOVED_COLUMNS` holds, but the activity log (which every
/// merge and undo adds an entry to).
async fn row_counts(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut m = BTreeMap::new();
    for (t, _) in merge::MOVED_COLUMNS {
        if *t != "user_activity_logs" {
            m.insert(*t, app.count(t).await);
        }
    }
    m
}

// ---------------------------------------------------------------------------------------
// Cost.

/// What merging (and undoing) a customer with many bookings costs.
struct Cost {
    merge_statements: usize,
    unmerge_statements: usize,
    /// How long each merge and each undo took, `rounds` of each.
    merges: Vec<Duration>,
    unmerges: Vec<Duration>,
}

/// Merges a customer with `n` bookings (each with an attendee and a payment) into another
/// with one booking, and undoes it, `rounds` times; counts the statements of the first
/// merge and undo.
async fn merge_cost(n: usize, rounds: usize) -> Cost {
    let counter = Arc::new(AtomicUsize::new(0));
    let shop = Shop::open_on(TestApp::spawn_counting(counter.clone()).await).await;
    let (_, survivor) = shop.book(0, "gus@example.com", 1).await;
    let (_, dup) = shop.book(0, "gus.old@example.com", 1).await;
    seed_bookings(&shop.app, dup, shop.sessions[1], n - 1).await;
    assert_eq!(shop.app.user_row(dup).await.total_bookings, n as i32);
    let mut cost = Cost {
        merge_statements: 0,
        unmerge_statements: 0,
        merges: Vec::new(),
        unmerges: Vec::new(),
    };
    for round in 0..rounds {
        counter.store(0, Ordering::SeqCst);
        let started = Instant::now();
        let merged = shop.merge_ok(survivor, &[dup]).await;
        cost.merges.push(started.elapsed());
        if round == 0 {
            cost.merge_statements = counter.load(Ordering::SeqCst);
        }
        assert_eq!(merged["survivor"]["totalBookings"], n as i64 + 1);
        assert_eq!(owned_by(&shop.app, dup).await["bookings"], 0);
        assert_consistent(&shop.app, "after the merge").await;

        counter.store(0, Ordering::SeqCst);
        let started = Instant::now();
        let body = shop.unmerge(uuid_of(&merged["id"])).await;
        cost.unmerges.push(started.elapsed());
        if round == 0 {
            cost.unmerge_statements = counter.load(Ordering::SeqCst);
        }
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(owned_by(&shop.app, dup).await["bookings"], n as i64);
        assert_consistent(&shop.app, "after the undo").await;
    }
    cost
}

#[tokio::test]
async fn merging_1000_bookings_runs_as_many_statements_as_merging_one() {
    let one = merge_cost(1, 1).await;
    let many = merge_cost(1000, 1).await;
    println!(
        "merge: {} statements for 1 booking ({:?}), {} for 1000 ({:?}); \
         undo: {} statements for 1 ({:?}), {} for 1000 ({:?})",
        one.merge_statements,
        one.merges[0],
        many.merge_statements,
        many.merges[0],
        one.unmerge_statements,
        one.unmerges[0],
        many.unmerge_statements,
        many.unmerges[0],
    );
    assert_eq!(
        one.merge_statements, many.merge_statements,
        "the merge's statement count grows with the rows moved"
    );
    assert_eq!(
        one.unmerge_statements, many.unmerge_statements,
        "the undo's statement count grows with the rows moved back"
    );
}

/// The figures of docs/PERFORMANCE.md: a merge (and undo) of a customer with 1,000
/// bookings, 7 times each, median and slowest. Run on its own:
/// `cargo test --test api merge::time_ -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: run it on its own"]
async fn time_a_merge_of_1000_bookings() {
    let cost = merge_cost(1000, 7).await;
    let summary = |mut times: Vec<Duration>| {
        times.sort();
        format!(
            "median {:?}, slowest {:?}",
            times[times.len() / 2],
            times[times.len() - 1]
        )
    };
    println!(
        "{:?}: merge of 1,000 bookings: {} statements, {}; undo: {} statements, {}",
        if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        cost.merge_statements,
        summary(cost.merges),
        cost.unmerge_statements,
        summary(cost.unmerges),
    );
}

// ---------------------------------------------------------------------------------------
// Undo, history, and the property.

#[tokio::test]
async fn unmerge_restores_every_row_exactly_and_rows_made_since_stay_or_follow() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (b1, s) = shop.book(0, "hal@example.com", 1).await;
    shop.pay(b1, "50.00").await;
    let (b2, d) = shop.book(1, "hal.work@example.com", 2).await;
    shop.pay(b2, "250.00").await;
    shop.refund(b2, "20.00").await;
    app.gql_ok(
        "mutation($id: UUID!) { updateUser(id: $id, input: { city: \"Hull\", mobile: \"07700 900777\", marketingConsent: true }) { id } }",
        json!({ "id": d }),
        Some(&shop.admin),
    )
    .await;
    app.gql_ok(
        NOTE,
        json!({ "id": d, "c": "Asked for an invoice" }),
        Some(&shop.admin),
    )
    .await;

    let before = snapshot(app).await;
    let merge_id = uuid_of(&shop.merge_ok(s, &[d]).await["id"]);
    assert_ne!(snapshot(app).await, before);
    let body = shop.unmerge(merge_id).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        body["data"]["unmergeUsers"]["undoneBy"]["id"],
        json!(shop.admin_id)
    );
    assert_restored(&before, &snapshot(app).await, "merge then undo");
    assert_consistent(app, "after the undo").await;
    assert_eq!(app.audit_rows("user.unmerge").await.len(), 1);

    // Again, with rows made in between: a booking of the survivor's own stays with it; a
    // payment and a refund of a moved booking follow it back.
    let merge_id = uuid_of(&shop.merge_ok(s, &[d]).await["id"]);
    let (own, owner) = shop.book(0, "hal@example.com", 1).await;
    assert_eq!(owner, s);
    shop.pay(b2, "10.00").await;
    let refund = shop.refund(b2, "5.00").await;
    assert!(refund.get("errors").is_none(), "{refund:#}");
    let body = shop.unmerge(merge_id).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(booking_row(app, own).await.user_id, s);
    assert_eq!(booking_row(app, b2).await.user_id, d);
    let payments = payment::Entity::find()
        .filter(payment::Column::BookingId.eq(b2))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(payments.len(), 2);
    assert!(payments.iter().all(|p| p.user_id == d));
    assert_consistent(app, "after the second undo").await;
    let d_row = app.user_row(d).await;
    assert_eq!(d_row.merged_into_id, None);
    assert_eq!(d_row.city.as_deref(), Some("Hull"));
    assert_eq!(d_row.total_spent_pence, 25_000 - 2_000 + 1_000 - 500);
}

#[tokio::test]
async fn user_merges_lists_the_history_newest_first() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (_, a) = shop.book(0, "ida@example.com", 1).await;
    let (_, b) = shop.book(0, "ida.b@example.com", 1).await;
    let (_, c) = shop.book(0, "ida.c@example.com", 1).await;
    let (_, x) = shop.book(0, "xavier@example.com", 1).await;
    let (_, y) = shop.book(0, "yusuf@example.com", 1).await;
    let first = uuid_of(&shop.merge_ok(a, &[b]).await["id"]);
    let other = uuid_of(&shop.merge_ok(x, &[y]).await["id"]);
    let third = uuid_of(&shop.merge_ok(a, &[c]).await["id"]);
    shop.unmerge(third).await;

    let admin = shop.admin.as_str();
    let page = |u: Value, first: i32, after: Value| async move {
        app.gql_ok(
            HISTORY,
            json!({ "u": u, "first": first, "after": after }),
            Some(admin),
        )
        .await["userMerges"]
            .clone()
    };
    let ids = |p: &Value| -> Vec<Uuid> {
        p["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| uuid_of(&e["node"]["id"]))
            .collect()
    };
    let all = page(Value::Null, 10, Value::Null).await;
    assert_eq!(ids(&all), [third, other, first]);
    assert!(!all["edges"][0]["node"]["undoneAt"].is_null());
    let of_a = page(json!(a), 10, Value::Null).await;
    assert_eq!(ids(&of_a), [third, first]);
    let of_b = page(json!(b), 10, Value::Null).await;
    assert_eq!(ids(&of_b), [first]);
    assert_eq!(of_b["edges"][0]["node"]["duplicates"], json!([{ "id": b }]));
    let p1 = page(json!(a), 1, Value::Null).await;
    assert_eq!(ids(&p1), [third]);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let p2 = page(json!(a), 1, p1["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(ids(&p2), [first]);
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn every_foreign_key_to_users_is_either_moved_or_deliberately_kept() {
    let app = TestApp::spawn().await;
    let backend = app.db.get_database_backend();
    let mut found = BTreeSet::new();
    for table in tables(&app).await {
        let sql = match backend {
            DbBackend::Sqlite => format!(
                "SELECT \"from\" AS name FROM pragma_foreign_key_list('{table}') \
                 WHERE \"table\" = 'users'"
            ),
            _ => format!(
                "SELECT kcu.column_name::text AS name \
                 FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu \
                   ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema \
                 JOIN information_schema.constraint_column_usage ccu \
                   ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema \
                 WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_name = '{table}' \
                   AND ccu.table_name = 'users'"
            ),
        };
        for column in names(&app, &sql).await {
            found.insert((table.clone(), column));
        }
    }
    let listed: BTreeSet<(String, String)> = merge::MOVED_COLUMNS
        .iter()
        .chain(merge::KEPT_COLUMNS)
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect();
    assert_eq!(
        found, listed,
        "decide for each new foreign key to users whether a merge moves it \
         (services::merge::MOVED_COLUMNS) or keeps it (KEPT_COLUMNS)"
    );
}

/// The people of the property test, and which merges are in force.
struct Sequence {
    shop: Shop,
    emails: Vec<String>,
    bookings: Vec<Uuid>,
    /// Merges in force, oldest first.
    merges: Vec<Uuid>,
    done: BTreeMap<&'static str, usize>,
}

impl Sequence {
    /// The ids of the profiles that are not tombstones.
    async fn live_customers(&self) -> Vec<Uuid> {
        user::Entity::find()
            .filter(user::Column::Role.eq(Role::Customer))
            .filter(user::Column::MergedIntoId.is_null())
            .order_by_asc(user::Column::Id)
            .all(&self.shop.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect()
    }

    fn count(&mut self, op: &'static str) {
        *self.done.entry(op).or_default() += 1;
    }

    async fn step(&mut self, rng: &mut StdRng, seed: u64, n: usize) {
        let context = format!("seed {seed}, step {n}");
        let pounds = |rng: &mut StdRng, max: u32| format!("{}.00", rng.gen_range(1..=max));
        match rng.gen_range(0..100u32) {
            0..30 => {
                let email = self.emails[rng.gen_range(0..self.emails.len())].clone();
                let s = rng.gen_range(0..self.shop.sessions.len());
                let (b, _) = self.shop.book(s, &email, rng.gen_range(1..=2)).await;
                self.bookings.push(b);
                self.count("book");
            }
            30..50 if !self.bookings.is_empty() => {
                let b = self.bookings[rng.gen_range(0..self.bookings.len())];
                let body = self
                    .shop
                    .app
                    .pay(&self.shop.admin, b, &pounds(rng, 80), "CARD")
                    .await;
                match error_code(&body) {
                    None => self.count("pay"),
                    // More than the balance due.
                    Some("BAD_USER_INPUT") => {}
                    Some(other) => panic!("{context}: payment {other}: {body:#}"),
                }
            }
            50..62 => {
                // A booking with money paid on it.
                let paid: Vec<Uuid> = payment::Entity::find()
                    .order_by_asc(payment::Column::Id)
                    .all(&self.shop.app.db)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|p| p.booking_id)
                    .collect();
                if paid.is_empty() {
                    return;
                }
                let b = paid[rng.gen_range(0..paid.len())];
                let body = self.shop.refund(b, &pounds(rng, 15)).await;
                match error_code(&body) {
                    None => self.count("refund"),
                    Some("BAD_USER_INPUT" | "CONFLICT") => {}
                    Some(other) => panic!("{context}: refund {other}: {body:#}"),
                }
            }
            62..85 => {
                let mut live = self.live_customers().await;
                if live.len() < 2 {
                    return;
                }
                let survivor = live.remove(rng.gen_range(0..live.len()));
                let dups: Vec<Uuid> = (0..rng.gen_range(1..=2usize.min(live.len())))
                    .map(|_| live.remove(rng.gen_range(0..live.len())))
                    .collect();
                let undo_at_once = rng.gen_bool(0.5);
                let before = match undo_at_once {
                    true => Some(snapshot(&self.shop.app).await),
                    false => None,
                };
                let merged = self.shop.merge_ok(survivor, &dups).await;
                let id = uuid_of(&merged["id"]);
                self.count("merge");
                assert_consistent(&self.shop.app, &format!("{context}: after merge")).await;
                match before {
                    Some(before) => {
                        let body = self.shop.unmerge(id).await;
                        assert!(body.get("errors").is_none(), "{context}: {body:#}");
                        assert_restored(
                            &before,
                            &snapshot(&self.shop.app).await,
                            &format!("{context}: merge then undo"),
                        );
                        self.count("merge+undo");
                    }
                    None => self.merges.push(id),
                }
            }
            85.. if !self.merges.is_empty() => {
                let i = rng.gen_range(0..self.merges.len());
                let body = self.shop.unmerge(self.merges[i]).await;
                match error_code(&body) {
                    None => {
                        self.merges.remove(i);
                        self.count("undo");
                    }
                    // A later merge of the same people is in force.
                    Some("CONFLICT") => self.count("undo refused"),
                    Some(other) => panic!("{context}: unmerge {other}: {body:#}"),
                }
            }
            _ => {}
        }
        assert_consistent(&self.shop.app, &context).await;
    }
}

#[tokio::test]
async fn random_bookings_payments_refunds_merges_and_undos_keep_totals_equal_to_recomputed() {
    let seed = std::env::var("MERGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen::<u64>());
    println!("seed {seed} (rerun with MERGE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let shop = Shop::open().await;
    let emails: Vec<String> = ["ann", "bob", "cat", "dan", "eve", "fin"]
        .iter()
        .map(|n| format!("{n}@example.com"))
        .collect();
    let mut bookings = Vec::new();
    for email in &emails {
        bookings.push(shop.book(0, email, 1).await.0);
    }
    let mut seq = Sequence {
        shop,
        emails,
        bookings,
        merges: Vec::new(),
        done: BTreeMap::new(),
    };
    for n in 0..40 {
        seq.step(&mut rng, seed, n).await;
    }
    // Undo what is left, newest first: every one succeeds, and everyone is separate again.
    while let Some(id) = seq.merges.pop() {
        let body = seq.shop.unmerge(id).await;
        assert!(
            body.get("errors").is_none(),
            "seed {seed}: final undo: {body:#}"
        );
        assert_consistent(&seq.shop.app, &format!("seed {seed}: final undo")).await;
    }
    assert_eq!(seq.live_customers().await.len(), 6, "seed {seed}");
    println!("seed {seed}: {:?}", seq.done);
    assert!(
        seq.done.get("merge").copied().unwrap_or(0) > 0,
        "seed {seed}: {:?}",
        seq.done
    );
}
