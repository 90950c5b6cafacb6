//! A change to one optional field: leave it, clear it, or set it.

/// What an update does to an optional field. Clients tell "leave it" (the field omitted)
/// from "clear it" (an explicit `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave the stored value as it is.
    #[default]
    Unchanged,
    /// Clear the stored value.
    Clear,
    /// Store this value.
    Set(T),
}
