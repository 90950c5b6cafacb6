//! The reports' API objects: a line of the renewal call list, a company account, and the
//! business dashboard with its series and shares. Related rows (holders, certificates,
//! courses, venues, customers) resolve through the per-request loaders, so a page costs
//! the same statements whatever its size.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, Edge},
    dataloader::{DataLoader, Loader},
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::sync::Arc;
use uuid::Uuid;

use crate::entities::partial::Partial;
use crate::error::AppError;
use crate::graphql::cost;
use crate::graphql::loaders::{
    CompanyCustomersKey, CompanyCustomersLoader, CourseLoader, VenueLoader,
};
use crate::graphql::query::{UserConnection, UserConnectionFields};
use crate::graphql::types::booking::{Certificate, Course, Venue};
use crate::graphql::types::enums::CustomerSegment;
use crate::graphql::types::user::User;
use crate::graphql::types::user_input::SortDirection;
use crate::money;
use crate::services::insights::{business, companies, renewals};

fn loader_error(e: Arc<sea_orm::DbErr>) -> async_graphql::Error {
    AppError::internal(anyhow::anyhow!("{e}")).into()
}

/// One row through a by-id loader; NOT_FOUND (`what`) when it has gone.
async fn load<L>(ctx: &Context<'_>, id: Uuid, what: &'static str) -> async_graphql::Result<L::Value>
where
    L: Loader<Uuid, Error = Arc<sea_orm::DbErr>>,
{
    ctx.data_unchecked::<DataLoader<L>>()
        .load_one(id)
        .await
        .map_err(loader_error)?
        .ok_or_else(|| AppError::NotFound(what).into())
}

// ---------------------------------------------------------------------------------------
// Renewals.

/// A certificate on the renewal call list: it expires within the window asked for, and its
/// holder has not booked a course of the same type since it was issued.
pub struct Renewal(pub renewals::Renewal);

/// A certificate on the renewal call list: it expires within the window asked for, and its
/// holder has not booked a course of the same type since it was issued.
#[Object]
impl Renewal {
    /// The certificate's id.
    async fn id(&self) -> Uuid {
        self.0.certificate.id
    }
    /// The customer who holds the certificate: the person to call.
    async fn holder(&self) -> User {
        User::unread(self.0.certificate.user_id)
    }
    /// The certificate that is expiring.
    async fn certificate(&self) -> Certificate {
        Certificate(Partial::from_keys(self.0.certificate))
    }
    /// The course the certificate was earned on (a renewal is a course of the same type).
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Course> {
        Ok(Course(
            load::<CourseLoader>(ctx, self.0.course_id, "course").await?,
        ))
    }
    /// The day the certificate expires.
    async fn expires_on(&self) -> NaiveDate {
        self.0.certificate.expires_on
    }
    /// Days from today (UTC) to the expiry: 0 when it expires today.
    async fn days_to_expiry(&self) -> i32 {
        self.0.days_to_expiry
    }
    /// The holder's company name, as on their profile.
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    /// When we last heard from or about the holder: the latest of their last booking
    /// (`User.lastBookingAt`), the last activity on their profile (`User.lastActivityAt`:
    /// a booking, a payment, a login) and the last note staff added to their record.
    async fn last_contact(&self) -> DateTime<Utc> {
        self.0.last_contact
    }
}

// ---------------------------------------------------------------------------------------
// Companies.

/// What companies can be sorted by. Ties are broken by the company's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::services::insights::companies::CompanySortField")]
pub enum CompanySortField {
    /// The company's id (its normalised name), A to Z.
    Name,
    /// Net spent by its customers.
    NetSpent,
    /// Live bookings made by its customers.
    Bookings,
    /// Number of customers.
    Customers,
    /// When its customers last booked (companies that never booked come last in
    /// descending order).
    LastBooking,
}

/// How to sort companies.
#[derive(Debug, Clone, Copy, InputObject)]
pub struct CompanyOrder {
    /// The sort key.
    pub field: CompanySortField,
    /// The direction; by default A to Z for NAME, and largest (or latest) first for the
    /// others.
    pub direction: Option<SortDirection>,
}

impl From<CompanyOrder> for companies::CompanyOrder {
    fn from(o: CompanyOrder) -> Self {
        Self::new(o.field.into(), o.direction.map(Into::into))
    }
}

/// A company account: the customers whose company names normalise to the same key
/// (lowercase, without punctuation or legal suffixes such as Ltd or Limited), so "Acme
/// Ltd" and "ACME Limited" are one company. Merged profiles and staff are left out.
pub struct Company(pub companies::Company);

/// A company account: the customers whose company names normalise to the same key
/// (lowercase, without punctuation or legal suffixes such as Ltd or Limited), so "Acme
/// Ltd" and "ACME Limited" are one company. Merged profiles and staff are left out.
#[Object]
impl Company {
    /// The company's key: its normalised name (e.g. `acme` for "Acme Ltd").
    async fn id(&self) -> ID {
        ID(self.0.key.clone())
    }
    /// The company's name as most of its customers typed it (ties: the first
    /// alphabetically, capitals first).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// How many customers the company has.
    async fn customer_count(&self) -> i64 {
        self.0.customers
    }
    /// People attending on its customers' live (not cancelled) bookings.
    async fn attendee_count(&self) -> i64 {
        self.0.attendees
    }
    /// Its customers' live (not cancelled) bookings.
    async fn booking_count(&self) -> i64 {
        self.0.bookings
    }
    /// Its customers' net spend: payments received less refunds completed (the sum of
    /// their `totalSpent`).
    async fn net_spent(&self) -> Decimal {
        money::from_pence(self.0.net_spent_pence)
    }
    /// When the latest booking by one of its customers was made (cancelled or not).
    async fn last_booking_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_booking_at
    }
    /// Its customers' certificates that are active and not yet expired.
    async fn certificates_active(&self) -> i64 {
        self.0.certificates_active
    }
    /// Of those, the ones expiring within 90 days (today included).
    async fn certificates_expiring_within_90_days(&self) -> i64 {
        self.0.certificates_expiring_within_90_days
    }
    /// The company's customers, by name (last, then first), a page at a time.
    #[graphql(complexity = "cost::page(first, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 0 to 100, default 20.")] first: Option<i32>,
        #[graphql(desc = "Return customers after this cursor (an `endCursor` of this list).")]
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let limit = companies::customers_page_size(first)?;
        let after = after
            .as_deref()
            .map(companies::parse_customer_cursor)
            .transpose()?;
        let has_previous_page = after.is_some();
        let page = ctx
            .data_unchecked::<DataLoader<CompanyCustomersLoader>>()
            .load_one(CompanyCustomersKey {
                company: self.0.key.clone(),
                limit,
                after,
            })
            .await
            .map_err(loader_error)?
            .unwrap_or_default();
        let mut connection = Connection::with_additional_fields(
            has_previous_page,
            page.has_next_page,
            UserConnectionFields::counted(u64::try_from(self.0.customers).unwrap_or(0)),
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|(cursor, id)| Edge::new(cursor, User::unread(id))),
        );
        Ok(connection)
    }
}

// ---------------------------------------------------------------------------------------
// The dashboard.

/// How the dashboard's series is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::services::insights::business::Interval")]
pub enum Interval {
    /// Weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

/// One interval of the dashboard's series. Days are UTC.
#[derive(SimpleObject)]
pub struct InsightsPoint {
    /// The interval's first day: a Monday or the 1st, or the range's `from`.
    pub start: NaiveDate,
    /// The interval's last day, inclusive: a Sunday or the month's last day, or the
    /// range's `to`.
    pub end: NaiveDate,
    /// Payments received (by payment time) less refunds completed (by completion time) in
    /// the interval; negative when refunds outweigh payments.
    pub net_revenue: Decimal,
    /// Bookings made in the interval and not cancelled.
    pub bookings: i64,
    /// Customers whose first booking ever (not cancelled) was made in the interval.
    pub new_customers: i64,
    /// Customers who booked in the interval and had booked before it (bookings not
    /// cancelled). New plus returning is everyone who booked in the interval.
    pub returning_customers: i64,
}

impl From<business::Point> for InsightsPoint {
    fn from(p: business::Point) -> Self {
        Self {
            start: p.start,
            end: p.end,
            net_revenue: money::from_pence(p.net_revenue_pence),
            bookings: p.bookings,
            new_customers: p.new_customers,
            returning_customers: p.returning_customers,
        }
    }
}

/// A course's part of the range's bookings.
pub struct CourseShare(business::Share);

/// A course's part of the range's bookings.
#[Object]
impl CourseShare {
    /// The course.
    async fn course(&self, ctx: &Context<'_>) -> async_graphql::Result<Course> {
        Ok(Course(
            load::<CourseLoader>(ctx, self.0.id, "course").await?,
        ))
    }
    /// Bookings of its sessions made in the range and not cancelled.
    async fn bookings(&self) -> i64 {
        self.0.bookings
    }
    /// Those bookings' total amounts, after discounts (what was booked, paid or not).
    async fn revenue(&self) -> Decimal {
        money::from_pence(self.0.revenue_pence)
    }
}

/// A venue's part of the range's bookings.
pub struct VenueShare(business::Share);

/// A venue's part of the range's bookings.
#[Object]
impl VenueShare {
    /// The venue.
    async fn venue(&self, ctx: &Context<'_>) -> async_graphql::Result<Venue> {
        Ok(Venue(load::<VenueLoader>(ctx, self.0.id, "venue").await?))
    }
    /// Bookings of sessions there made in the range and not cancelled.
    async fn bookings(&self) -> i64 {
        self.0.bookings
    }
    /// Those bookings' total amounts, after discounts (what was booked, paid or not).
    async fn revenue(&self) -> Decimal {
        money::from_pence(self.0.revenue_pence)
    }
}

/// How many customers are in a segment.
#[derive(SimpleObject)]
pub struct SegmentCount {
    /// The segment.
    pub segment: CustomerSegment,
    /// Customers in it at the latest insights refresh (merged profiles left out).
    pub customers: i64,
}

/// The business dashboard over a range of days (UTC): a chart-ready series with every
/// interval present, empty ones included, and totals over the whole range.
pub struct BusinessInsights(pub business::BusinessInsights);

/// The business dashboard over a range of days (UTC): a chart-ready series with every
/// interval present, empty ones included, and totals over the whole range.
#[Object]
impl BusinessInsights {
    /// Every week or month overlapping the range, in order, clipped to it.
    async fn series(&self) -> Vec<InsightsPoint> {
        self.0.series.iter().cloned().map(Into::into).collect()
    }
    /// Gross revenue less refunds completed in the range.
    async fn net_revenue(&self) -> Decimal {
        self.0.net_revenue()
    }
    /// Payments received in the range (by payment time), including those refunded since.
    async fn gross_revenue(&self) -> Decimal {
        money::from_pence(self.0.gross_revenue_pence)
    }
    /// Refunds completed in the range (by completion time).
    async fn refunded(&self) -> Decimal {
        money::from_pence(self.0.refunded_pence)
    }
    /// `refunded / grossRevenue` (0.05 is 5%); 0 when nothing was received.
    async fn refund_rate(&self) -> f64 {
        self.0.refund_rate()
    }
    /// Bookings made in the range and not cancelled.
    async fn bookings(&self) -> i64 {
        self.0.bookings
    }
    /// Those bookings' mean total amount, to the penny; null when there are none.
    async fn average_booking_value(&self) -> Option<Decimal> {
        self.0.average_booking_value()
    }
    /// The five courses with the most bookings in the range (ties: more revenue first).
    async fn top_courses(&self) -> Vec<CourseShare> {
        self.0
            .top_courses
            .iter()
            .cloned()
            .map(CourseShare)
            .collect()
    }
    /// The five venues with the most bookings in the range (ties: more revenue first).
    async fn top_venues(&self) -> Vec<VenueShare> {
        self.0.top_venues.iter().cloned().map(VenueShare).collect()
    }
    /// Customers per segment at the latest insights refresh (not limited to the range),
    /// every segment listed, zero when empty.
    async fn segments(&self) -> Vec<SegmentCount> {
        self.0
            .segments
            .iter()
            .map(|&(segment, customers)| SegmentCount {
                segment: segment.into(),
                customers,
            })
            .collect()
    }
}
