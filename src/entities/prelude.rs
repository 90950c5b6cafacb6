//! Every entity, re-exported under its table's singular name (`User`, `Booking`, ...).

pub use super::attendance_record::Entity as AttendanceRecord;
pub use super::audit_log::Entity as AuditLog;
pub use super::auth_session::Entity as AuthSession;
pub use super::booking::Entity as Booking;
pub use super::booking_attendee::Entity as BookingAttendee;
pub use super::certificate::Entity as Certificate;
pub use super::course::Entity as Course;
pub use super::course_session::Entity as CourseSession;
pub use super::customer_insight::Entity as CustomerInsight;
pub use super::duplicate_dismissal::Entity as DuplicateDismissal;
pub use super::duplicate_pair::Entity as DuplicatePair;
pub use super::import_job::Entity as ImportJob;
pub use super::import_row::Entity as ImportRow;
pub use super::insight_model::Entity as InsightModel;
pub use super::payment::Entity as Payment;
pub use super::refund::Entity as Refund;
pub use super::session_note::Entity as SessionNote;
pub use super::stripe_event::Entity as StripeEvent;
pub use super::user::Entity as User;
pub use super::user_activity_log::Entity as UserActivityLog;
pub use super::user_match_key::Entity as UserMatchKey;
pub use super::user_merge::Entity as UserMerge;
pub use super::user_merge_member::Entity as UserMergeMember;
pub use super::user_merge_move::Entity as UserMergeMove;
pub use super::user_note::Entity as UserNote;
pub use super::venue::Entity as Venue;
