//! The retention table: for every column of every table, whether it is personal data and
//! what a data-subject request does with it. Export, the erasure preview, erasure and
//! `apply-retention` all read this one table, so a column cannot be exported but forgotten
//! by erasure, or the other way round; and a test fails when the database has a table or
//! column this table does not name (`tests/api/privacy.rs`).

/// How a table's rows belong to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Not about one person (the catalogue, the import jobs, the model fits). Nothing in it
    /// is exported or erased; `why` says why.
    Nobody,
    /// Rows whose column holds the person's user id (or one of their merged-away ids).
    Column(&'static str),
    /// Rows where either column holds one of the person's ids (pairs of users).
    Either(&'static str, &'static str),
    /// Rows of the person's bookings (by the `booking_id` column), or whose `user_id` is
    /// the person's: attendees, whoever the booker named.
    BookingOrUser,
    /// Audit rows about the person or anything of theirs (`entity_id` is one of their
    /// profiles or of the rows they own), or done by them (`actor_id`).
    Audit,
}

/// What erasure does with the rows a person owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Rows stay; each column is treated by its rule.
    Keep,
    /// Rows are deleted (their columns are still exported first).
    Delete,
}

/// What a column is replaced with on erasure, when it cannot simply become `NULL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// A fixed text.
    Text(&'static str),
    /// A fixed truth value (consents become `false`).
    Bool(bool),
    /// `erased-<user id>@invalid` (the profile's own id).
    ErasedEmail,
    /// The empty JSON object.
    EmptyJson,
    /// `ERASED-` and the row id's random part (unique columns such as a certificate's
    /// number).
    ErasedId,
}

/// Why, and until when, a personal column outlives erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Financial records: HMRC asks for 6 years after the person's last transaction (their
    /// latest booking, payment or refund).
    FinancialRecords,
    /// A certificate stays verifiable until it expires.
    CertificateValidity,
}

impl Period {
    /// The reason shown in the erasure preview.
    pub fn reason(self) -> &'static str {
        match self {
            Period::FinancialRecords => {
                "financial record: kept for 6 years after the last transaction (HMRC)"
            }
            Period::CertificateValidity => "certificate: kept verifiable until it expires",
        }
    }
}

/// What happens to a column when its period ends, or at erasure for the unretained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Set to `NULL`.
    Erase,
    /// Replaced by the placeholder.
    Anonymise(Placeholder),
}

/// One column's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Not personal on its own (keys, statuses, amounts, counters, times): exported with
    /// the row, kept on erasure.
    Keep,
    /// Personal: exported, and removed on erasure.
    Remove(Removal),
    /// Personal: exported, kept after erasure until the period ends, then removed
    /// (`rft-users apply-retention`).
    Retain(Period, Removal),
    /// A secret or derived value (password and token hashes, the search text): never
    /// exported, removed on erasure (derived values are rebuilt from the erased profile).
    Withheld(Removal),
}

/// Shorthands for the table below.
pub const KEEP: Rule = Rule::Keep;
pub const ERASE: Rule = Rule::Remove(Removal::Erase);
pub const fn anonymise(p: Placeholder) -> Rule {
    Rule::Remove(Removal::Anonymise(p))
}
pub const fn text(t: &'static str) -> Rule {
    anonymise(Placeholder::Text(t))
}
pub const FALSE: Rule = Rule::Remove(Removal::Anonymise(Placeholder::Bool(false)));

/// A table's rules.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub owner: Owner,
    pub rows: Rows,
    /// Every column of the table, with its rule.
    pub columns: &'static [(&'static str, Rule)],
    /// For a table nobody owns: why it holds no one's personal data.
    pub why: &'static str,
}

impl Table {
    /// The rule for `column`.
    pub fn rule(&self, column: &str) -> Option<Rule> {
        self.columns
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, r)| *r)
    }

    /// Whether the table holds anyone's personal data.
    pub fn is_personal(&self) -> bool {
        self.owner != Owner::Nobody
    }
}

const fn owned(
    name: &'static str,
    owner: Owner,
    rows: Rows,
    columns: &'static [(&'static str, Rule)],
) -> Table {
    Table {
        name,
        owner,
        rows,
        columns,
        why: "",
    }
}

const fn nobodys(name: &'static str, why: &'static str) -> Table {
    Table {
        name,
        owner: Owner::Nobody,
        rows: Rows::Keep,
        columns: &[],
        why,
    }
}

const USER_ID: Owner = Owner::Column("user_id");
const FINANCIAL_THEN_ERASE: Rule = Rule::Retain(Period::FinancialRecords, Removal::Erase);

/// Every table of the database.
pub const TABLES: &[Table] = &[
    owned(
        "users",
        Owner::Column("id"),
        Rows::Keep,
        &[
            ("id", KEEP),
            ("email", anonymise(Placeholder::ErasedEmail)),
            ("first_name", text("Erased")),
            ("last_name", text("customer")),
            ("phone", ERASE),
            ("mobile", ERASE),
            ("date_of_birth", ERASE),
            ("address_line_1", ERASE),
            ("address_line_2", ERASE),
            ("city", ERASE),
            ("county", ERASE),
            ("postcode", ERASE),
            ("country", KEEP),
            ("company_name", ERASE),
            ("company_role", ERASE),
            ("company_department", ERASE),
            ("vat_number", ERASE),
            ("role", KEEP),
            ("status", KEEP),
            ("customer_type", KEEP),
            ("customer_since", KEEP),
            ("first_booking_at", KEEP),
            ("last_booking_at", KEEP),
            ("total_bookings", KEEP),
            ("total_spent_pence", KEEP),
            ("last_activity_at", KEEP),
            ("marketing_consent", FALSE),
            ("sms_consent", FALSE),
            ("newsletter_subscribed", FALSE),
            ("preferred_contact_method", KEEP),
            ("language", KEEP),
            ("reminder_frequency", KEEP),
            ("emergency_contact_name", ERASE),
            ("emergency_contact_phone", ERASE),
            ("emergency_contact_relationship", ERASE),
            ("has_medical_conditions", FALSE),
            ("medical_notes", ERASE),
            ("dietary_requirements", ERASE),
            ("share_medical_with_trainer", FALSE),
            ("password_hash", Rule::Withheld(Removal::Erase)),
            ("last_login_at", ERASE),
            ("failed_login_attempts", KEEP),
            ("account_locked_until", KEEP),
            ("password_changed_at", KEEP),
            ("created_by_id", KEEP),
            ("notes", ERASE),
            ("merged_into_id", KEEP),
            (
                "search_text",
                Rule::Withheld(Removal::Anonymise(Placeholder::Text("erased customer"))),
            ),
            (
                "sort_name",
                Rule::Withheld(Removal::Anonymise(Placeholder::Text("customer erased"))),
            ),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "bookings",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("session_id", KEEP),
            ("reference", KEEP),
            ("status", KEEP),
            ("payment_status", KEEP),
            ("unit_price_pence", KEEP),
            ("discount_pence", KEEP),
            ("total_amount_pence", KEEP),
            ("amount_paid_pence", KEEP),
            ("amount_refunded_pence", KEEP),
            ("number_of_attendees", KEEP),
            ("special_requirements", ERASE),
            // The name, email, phone and company the booking was made and billed under.
            ("contact_details", FINANCIAL_THEN_ERASE),
            ("legacy_id", KEEP),
            ("legacy_reference", KEEP),
            ("confirmation_sent", KEEP),
            ("reminder_sent", KEEP),
            ("certificate_issued", KEEP),
            ("cancelled_at", KEEP),
            ("cancellation_reason", ERASE),
            ("created_by_id", KEEP),
            ("updated_by_id", KEEP),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "booking_attendees",
        Owner::BookingOrUser,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("booking_id", KEEP),
            ("user_id", KEEP),
            ("first_name", text("Erased")),
            ("last_name", text("attendee")),
            ("email", ERASE),
            ("phone", ERASE),
            ("special_requirements", ERASE),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "payments",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("booking_id", KEEP),
            ("user_id", KEEP),
            ("stripe_payment_intent_id", KEEP),
            ("amount_pence", KEEP),
            ("currency", KEEP),
            ("status", KEEP),
            ("method", KEEP),
            ("recorded_by_id", KEEP),
            ("paid_at", KEEP),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "refunds",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("booking_id", KEEP),
            ("payment_id", KEEP),
            ("user_id", KEEP),
            ("reference", KEEP),
            ("amount_pence", KEEP),
            ("processing_fee_pence", KEEP),
            ("status", KEEP),
            (
                "reason",
                Rule::Retain(
                    Period::FinancialRecords,
                    Removal::Anonymise(Placeholder::Text("erased")),
                ),
            ),
            ("stripe_refund_id", KEEP),
            ("requested_by_id", KEEP),
            ("processed_by_id", KEEP),
            ("requested_at", KEEP),
            ("approved_at", KEEP),
            ("rejected_at", KEEP),
            ("completed_at", KEEP),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "certificates",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("booking_id", KEEP),
            ("attendee_id", KEEP),
            ("user_id", KEEP),
            ("course_id", KEEP),
            ("session_id", KEEP),
            (
                "certificate_number",
                Rule::Retain(
                    Period::CertificateValidity,
                    Removal::Anonymise(Placeholder::ErasedId),
                ),
            ),
            (
                "holder_name",
                Rule::Retain(
                    Period::CertificateValidity,
                    Removal::Anonymise(Placeholder::Text("Erased customer")),
                ),
            ),
            ("issued_on", KEEP),
            ("expires_on", KEEP),
            ("status", KEEP),
            ("revoked_at", KEEP),
            ("revocation_reason", ERASE),
            ("issued_by_id", KEEP),
            ("pdf_url", ERASE),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "attendance_records",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("session_id", KEEP),
            ("booking_id", KEEP),
            ("attendee_id", KEEP),
            ("user_id", KEEP),
            ("marked_by_id", KEEP),
            ("status", KEEP),
            ("check_in_at", KEEP),
            ("check_out_at", KEEP),
            ("passed_assessment", KEEP),
            ("certificate_eligible", KEEP),
            ("participation_score", KEEP),
            ("trainer_feedback", ERASE),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "user_notes",
        USER_ID,
        Rows::Delete,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("note_type", KEEP),
            ("content", ERASE),
            ("is_internal", KEEP),
            ("created_by_id", KEEP),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "user_activity_logs",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("activity_type", KEEP),
            // Free text that can name the person ("Merged … Zoë Davies").
            ("description", ERASE),
            ("related_entity_type", KEEP),
            ("related_entity_id", KEEP),
            ("actor_id", KEEP),
            ("ip_address", ERASE),
            ("user_agent", ERASE),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "email_logs",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("recipient_email", anonymise(Placeholder::ErasedEmail)),
            ("subject", KEEP),
            ("template_name", KEEP),
            ("body_text", text("")),
            ("body_html", text("")),
            ("status", KEEP),
            ("attempts", KEEP),
            ("error_message", ERASE),
            ("next_attempt_at", KEEP),
            ("locked_until", KEEP),
            ("claim_token", KEEP),
            ("sent_at", KEEP),
            ("dedupe_key", KEEP),
            ("related_entity_type", KEEP),
            ("related_entity_id", KEEP),
            ("created_at", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    // The proof of consent: exported, and deleted with the person it proves anything about.
    owned(
        "consent_events",
        USER_ID,
        Rows::Delete,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("consent", KEEP),
            ("granted", KEEP),
            ("source", KEEP),
            ("actor_id", KEEP),
            ("ip_address", ERASE),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "portal_sessions",
        USER_ID,
        Rows::Delete,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("token_hash", Rule::Withheld(Removal::Erase)),
            ("created_at", KEEP),
            ("expires_at", KEEP),
            ("last_used_at", KEEP),
            ("revoked_at", KEEP),
            ("ip", ERASE),
        ],
    ),
    owned(
        "auth_sessions",
        USER_ID,
        Rows::Delete,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            ("family_id", KEEP),
            ("token_hash", Rule::Withheld(Removal::Erase)),
            ("expires_at", KEEP),
            ("created_at", KEEP),
            ("last_used_at", KEEP),
            ("replaced_by_id", KEEP),
            ("revoked_at", KEEP),
            ("revoked_reason", KEEP),
            ("ip_address", ERASE),
            ("user_agent", ERASE),
        ],
    ),
    // Derived from bookings and payments, which are kept, so segment and revenue reports
    // stay as they were.
    owned(
        "customer_insights",
        USER_ID,
        Rows::Keep,
        &[
            ("user_id", KEEP),
            ("model_id", KEEP),
            ("recency_days", KEEP),
            ("bookings", KEEP),
            ("monetary_pence", KEEP),
            ("recency_score", KEEP),
            ("frequency_score", KEEP),
            ("monetary_score", KEEP),
            ("segment", KEEP),
            ("repeat_bookings", KEEP),
            ("recency_weeks", KEEP),
            ("age_weeks", KEEP),
            ("average_value_pence", KEEP),
            ("probability_active", KEEP),
            ("predicted_value_pence", KEEP),
            ("renewals", KEEP),
            ("actual_bookings", KEEP),
            ("actual_revenue_pence", KEEP),
        ],
    ),
    owned(
        "user_match_keys",
        USER_ID,
        Rows::Delete,
        &[
            ("user_id", KEEP),
            ("mailbox_key", Rule::Withheld(Removal::Erase)),
            ("phone_key", Rule::Withheld(Removal::Erase)),
            ("mobile_key", Rule::Withheld(Removal::Erase)),
            ("first_name_key", Rule::Withheld(Removal::Erase)),
            ("last_name_key", Rule::Withheld(Removal::Erase)),
            ("first_name_sound", Rule::Withheld(Removal::Erase)),
            ("last_name_sound", Rule::Withheld(Removal::Erase)),
            ("name_key", Rule::Withheld(Removal::Erase)),
            ("company_key", Rule::Withheld(Removal::Erase)),
            ("postcode_key", Rule::Withheld(Removal::Erase)),
            ("postcode_outward", Rule::Withheld(Removal::Erase)),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "duplicate_pairs",
        Owner::Either("user_a", "user_b"),
        Rows::Delete,
        &[
            ("user_a", KEEP),
            ("user_b", KEEP),
            ("score", KEEP),
            ("match_weight", KEEP),
            ("reasons", KEEP),
            ("updated_at", KEEP),
        ],
    ),
    owned(
        "duplicate_dismissals",
        Owner::Either("user_a", "user_b"),
        Rows::Delete,
        &[
            ("user_a", KEEP),
            ("user_b", KEEP),
            ("dismissed_by_id", KEEP),
            ("dismissed_at", KEEP),
        ],
    ),
    owned(
        "import_rows",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("job_id", KEEP),
            ("source", KEEP),
            ("ordinal", KEEP),
            ("line", KEEP),
            ("legacy_id", KEEP),
            ("reference", KEEP),
            ("status", KEEP),
            ("reason", ERASE),
            ("content_hash", KEEP),
            ("raw_json", ERASE),
            ("user_id", KEEP),
            ("booking_id", KEEP),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "user_merges",
        Owner::Column("survivor_id"),
        Rows::Keep,
        &[
            ("id", KEEP),
            ("survivor_id", KEEP),
            ("duplicate_ids", KEEP),
            ("survivor_before", anonymise(Placeholder::EmptyJson)),
            ("duplicates_before", anonymise(Placeholder::EmptyJson)),
            ("fields", anonymise(Placeholder::EmptyJson)),
            ("moved", KEEP),
            ("reason", ERASE),
            ("merged_by_id", KEEP),
            ("merged_at", KEEP),
            ("undone_at", KEEP),
            ("undone_by_id", KEEP),
            ("undo_reason", ERASE),
        ],
    ),
    owned(
        "user_merge_members",
        USER_ID,
        Rows::Keep,
        &[("merge_id", KEEP), ("user_id", KEEP), ("is_survivor", KEEP)],
    ),
    owned(
        "user_merge_moves",
        Owner::Column("new_user_id"),
        Rows::Keep,
        &[
            ("merge_id", KEEP),
            ("table_name", KEEP),
            ("column_name", KEEP),
            ("row_id", KEEP),
            ("old_user_id", KEEP),
            ("new_user_id", KEEP),
        ],
    ),
    owned(
        "audit_logs",
        Owner::Audit,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("actor_id", KEEP),
            ("actor_role", KEEP),
            ("action", KEEP),
            ("entity_type", KEEP),
            ("entity_id", KEEP),
            ("changes", ERASE),
            ("ip_address", ERASE),
            ("user_agent", ERASE),
            ("created_at", KEEP),
        ],
    ),
    owned(
        "erasures",
        USER_ID,
        Rows::Keep,
        &[
            ("id", KEEP),
            ("user_id", KEEP),
            // A keyed hash of the canonical email, kept to stop a re-import.
            ("email_hash", KEEP),
            ("erased_by_id", KEEP),
            ("erased_at", KEEP),
        ],
    ),
    nobodys("courses", "the course catalogue"),
    nobodys("venues", "training venues"),
    nobodys(
        "course_sessions",
        "scheduled courses (the instructor is staff, named by id)",
    ),
    nobodys(
        "session_notes",
        "instructors' notes on a session as a whole, not about one customer",
    ),
    nobodys("stripe_events", "Stripe event ids, for idempotency"),
    nobodys("import_jobs", "import runs: file names and counts"),
    nobodys("insight_models", "model fits: parameters only"),
    nobodys(
        "rate_limit_buckets",
        "keyed hashes of addresses, emails and references, expiring within a day",
    ),
    nobodys("seaql_migrations", "applied migrations"),
];

/// The table named `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}
