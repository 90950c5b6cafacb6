//! Input objects for the catalogue: courses, venues and sessions, and their conversions
//! into the services' own types.

use async_graphql::{InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::graphql::types::enums::{CourseType, SessionStatus};
use crate::services::catalogue;

/// A new course.
#[derive(Debug, InputObject)]
pub struct CreateCourseInput {
    /// The course's name, unique.
    pub name: String,
    /// A description for the website.
    pub description: Option<String>,
    /// EFAW, FAW or PAEDIATRIC.
    pub course_type: CourseType,
    /// Teaching hours.
    pub duration_hours: i32,
    /// Price per attendee in pounds.
    pub price: Decimal,
    /// Default number of places on a session.
    pub max_capacity: i32,
    /// How many years a certificate from this course is valid.
    pub certification_validity_years: i32,
}

/// Changes to a course. Omitted fields are left alone.
#[derive(Debug, InputObject)]
pub struct UpdateCourseInput {
    /// New name (unique).
    pub name: Option<String>,
    /// New description; `null` clears it.
    pub description: MaybeUndefined<String>,
    /// New teaching hours.
    pub duration_hours: Option<i32>,
    /// New price per attendee in pounds (existing bookings keep their price).
    pub price: Option<Decimal>,
    /// New default capacity.
    pub max_capacity: Option<i32>,
    /// New certificate validity in years.
    pub certification_validity_years: Option<i32>,
    /// Whether the course is offered.
    pub is_active: Option<bool>,
}

/// A new venue.
#[derive(Debug, InputObject)]
pub struct CreateVenueInput {
    /// The venue's name, unique.
    pub name: String,
    /// First address line.
    pub address_line1: Option<String>,
    /// Second address line.
    pub address_line2: Option<String>,
    /// Town or city.
    pub city: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// Most people the room holds.
    pub capacity: Option<i32>,
    /// Facilities, e.g. "parking", "wheelchair access".
    pub facilities: Option<Vec<String>>,
    /// Parking directions.
    pub parking_info: Option<String>,
}

/// Changes to a venue. Omitted fields are left alone; `null` clears.
#[derive(Debug, InputObject)]
pub struct UpdateVenueInput {
    /// New name (unique).
    pub name: Option<String>,
    /// First address line.
    pub address_line1: MaybeUndefined<String>,
    /// Second address line.
    pub address_line2: MaybeUndefined<String>,
    /// Town or city.
    pub city: MaybeUndefined<String>,
    /// Postcode.
    pub postcode: MaybeUndefined<String>,
    /// Most people the room holds.
    pub capacity: MaybeUndefined<i32>,
    /// Facilities.
    pub facilities: MaybeUndefined<Vec<String>>,
    /// Parking directions.
    pub parking_info: MaybeUndefined<String>,
    /// Whether the venue is in use.
    pub is_active: Option<bool>,
}

/// A new scheduled session.
#[derive(Debug, InputObject)]
pub struct CreateCourseSessionInput {
    /// The course taught.
    pub course_id: Uuid,
    /// Where.
    pub venue_id: Uuid,
    /// The instructor teaching it (a user with role INSTRUCTOR).
    pub instructor_id: Option<Uuid>,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// End (UTC), after the start.
    pub ends_at: DateTime<Utc>,
    /// Places; defaults to the course's capacity.
    pub capacity: Option<i32>,
}

/// Changes to a session. Omitted fields are left alone.
#[derive(Debug, InputObject)]
pub struct UpdateCourseSessionInput {
    /// Move to another venue.
    pub venue_id: Option<Uuid>,
    /// Assign (or with `null`, unassign) the instructor.
    pub instructor_id: MaybeUndefined<Uuid>,
    /// New start (UTC).
    pub starts_at: Option<DateTime<Utc>>,
    /// New end (UTC).
    pub ends_at: Option<DateTime<Utc>>,
    /// New capacity; never below the places already booked.
    pub capacity: Option<i32>,
    /// New status (use `cancelCourseSession` to cancel).
    pub status: Option<SessionStatus>,
}

/// Which sessions to list.
#[derive(Debug, Default, InputObject)]
pub struct CourseSessionFilter {
    /// Starting at or after this instant; defaults to now for the public listing.
    pub from: Option<DateTime<Utc>>,
    /// Starting at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only this kind of course.
    pub course_type: Option<CourseType>,
    /// Only at this venue.
    pub venue_id: Option<Uuid>,
    /// Only sessions with at least one place left (or, with false, only full ones).
    pub has_space: Option<bool>,
    /// Include cancelled sessions; defaults to false.
    pub include_cancelled: Option<bool>,
}

impl From<CreateCourseInput> for catalogue::NewCourse {
    fn from(i: CreateCourseInput) -> Self {
        Self {
            name: i.name,
            description: i.description,
            course_type: i.course_type.into(),
            duration_hours: i.duration_hours,
            price: i.price,
            max_capacity: i.max_capacity,
            certification_validity_years: i.certification_validity_years,
        }
    }
}

impl From<UpdateCourseInput> for catalogue::CourseChanges {
    fn from(i: UpdateCourseInput) -> Self {
        Self {
            name: i.name,
            description: i.description.into(),
            duration_hours: i.duration_hours,
            price: i.price,
            max_capacity: i.max_capacity,
            certification_validity_years: i.certification_validity_years,
            is_active: i.is_active,
        }
    }
}

impl From<CreateVenueInput> for catalogue::NewVenue {
    fn from(i: CreateVenueInput) -> Self {
        Self {
            name: i.name,
            address_line1: i.address_line1,
            address_line2: i.address_line2,
            city: i.city,
            postcode: i.postcode,
            capacity: i.capacity,
            facilities: i.facilities,
            parking_info: i.parking_info,
        }
    }
}

impl From<UpdateVenueInput> for catalogue::VenueChanges {
    fn from(i: UpdateVenueInput) -> Self {
        Self {
            name: i.name,
            address_line1: i.address_line1.into(),
            address_line2: i.address_line2.into(),
            city: i.city.into(),
            postcode: i.postcode.into(),
            capacity: i.capacity.into(),
            facilities: i.facilities.into(),
            parking_info: i.parking_info.into(),
            is_active: i.is_active,
        }
    }
}

impl From<CreateCourseSessionInput> for catalogue::NewSession {
    fn from(i: CreateCourseSessionInput) -> Self {
        Self {
            course_id: i.course_id,
            venue_id: i.venue_id,
            instructor_id: i.instructor_id,
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            capacity: i.capacity,
        }
    }
}

impl From<UpdateCourseSessionInput> for catalogue::SessionChanges {
    fn from(i: UpdateCourseSessionInput) -> Self {
        Self {
            venue_id: i.venue_id,
            instructor_id: i.instructor_id.into(),
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            capacity: i.capacity,
            status: i.status.map(Into::into),
        }
    }
}

impl From<CourseSessionFilter> for catalogue::SessionFilter {
    fn from(f: CourseSessionFilter) -> Self {
        Self {
            from: f.from,
            to: f.to,
            course_type: f.course_type.map(Into::into),
            venue_id: f.venue_id,
            has_space: f.has_space,
            include_cancelled: f.include_cancelled,
        }
    }
}
