//! "Keys now, the rest on demand": a row of which a page may have read only a few columns.
//!
//! A page whose selection reads only an object's keys (its id, the ids it points at, and
//! what its relations need) reads only those columns, a light projection named beside its
//! entity (`booking::BookingKeys`, `course_session::SessionKeys`, ...). The object then
//! holds a [`Partial`]: the keys, always, and the whole model when it was read or once it
//! has been loaded. Any field beyond the keys asks for the whole row, which the API layer
//! loads by id the first time (through the entity's DataLoader) and keeps, so the answer
//! never depends on what the page chose to read. See `docs/ARCHITECTURE.md`, "Look-ahead
//! and partial rows".
//!
//! [`Prefetched`] says the same of a relation: fetched with the page, or left to be loaded
//! when a field asks for it.

use std::{future::Future, sync::Arc};

use tokio::sync::OnceCell;
use uuid::Uuid;

/// A light projection of the model `M`: the columns a page reads of `M` when its selection
/// needs nothing else. It always holds the row's id, by which the rest is loaded.
pub trait KeysOf<M>: Sized {
    /// The projection of a whole row.
    fn of(model: &M) -> Self;
    /// The row's primary key.
    fn id(&self) -> Uuid;
}

/// A row read in part: its keys `L` now, its whole model `M` when it was read, or once it
/// has been loaded (kept, so it is loaded at most once, however many fields ask).
#[derive(Debug, Clone)]
pub struct Partial<L, M> {
    keys: L,
    full: OnceCell<Arc<M>>,
}

impl<L: KeysOf<M>, M> Partial<L, M> {
    /// A row read whole.
    pub fn from_full(model: impl Into<Arc<M>>) -> Self {
        let model = model.into();
        Self {
            keys: L::of(&model),
            full: OnceCell::new_with(Some(model)),
        }
    }

    /// A row of which only the keys were read; the rest is loaded on demand.
    pub fn from_keys(keys: L) -> Self {
        Self {
            keys,
            full: OnceCell::new(),
        }
    }

    /// The row's primary key.
    pub fn id(&self) -> Uuid {
        self.keys.id()
    }
}

impl<L, M> Partial<L, M> {
    /// The keys: known whichever way the row was read.
    pub fn keys(&self) -> &L {
        &self.keys
    }

    /// The whole row, if it was read or has been loaded.
    pub fn full(&self) -> Option<&Arc<M>> {
        self.full.get()
    }

    /// The whole row: as held, or else from `load` (which the API layer points at the
    /// entity's loader), kept for every later call. Callers that arrive while a load is in
    /// flight wait for it rather than starting their own; a failed load is tried again by
    /// the next caller.
    pub async fn full_or_load<E, F, Fut>(&self, load: F) -> Result<&Arc<M>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<M>, E>>,
    {
        self.full.get_or_try_init(load).await
    }
}

/// A relation as a page read it: fetched along with the page, or not fetched, in which case
/// a field that reads it loads it on demand.
#[derive(Debug, Clone, Default)]
pub enum Prefetched<T> {
    /// Not fetched with the page: load it when asked.
    #[default]
    NotFetched,
    /// Fetched with the page. For a to-one relation, `T` is an `Option`: `None` when there
    /// is no related row.
    Fetched(T),
}

impl<T> Prefetched<T> {
    /// What was fetched, if it was.
    pub fn fetched(&self) -> Option<&T> {
        match self {
            Self::Fetched(value) => Some(value),
            Self::NotFetched => None,
        }
    }

    /// A reference to what was fetched.
    pub fn as_ref(&self) -> Prefetched<&T> {
        match self {
            Self::Fetched(value) => Prefetched::Fetched(value),
            Self::NotFetched => Prefetched::NotFetched,
        }
    }

    /// What was fetched, changed by `f`; still not fetched if it was not.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Prefetched<U> {
        match self {
            Self::Fetched(value) => Prefetched::Fetched(f(value)),
            Self::NotFetched => Prefetched::NotFetched,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Row {
        id: Uuid,
        name: String,
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct RowKeys(Uuid);

    impl KeysOf<Row> for RowKeys {
        fn of(model: &Row) -> Self {
            Self(model.id)
        }
        fn id(&self) -> Uuid {
            self.0
        }
    }

    fn row() -> Row {
        Row {
            id: Uuid::from_u128(7),
            name: "whole".into(),
        }
    }

    #[tokio::test]
    async fn a_row_read_whole_never_loads() {
        let partial: Partial<RowKeys, Row> = Partial::from_full(row());
        assert_eq!(partial.keys(), &RowKeys(Uuid::from_u128(7)));
        assert_eq!(partial.full().map(|m| m.name.as_str()), Some("whole"));
        let full = partial
            .full_or_load(|| async { Err::<Arc<Row>, &str>("must not load") })
            .await;
        assert_eq!(full.map(|m| m.name.as_str()), Ok("whole"));
    }

    #[tokio::test]
    async fn keys_load_the_rest_once_and_keep_it() {
        let partial: Partial<RowKeys, Row> = Partial::from_keys(RowKeys(Uuid::from_u128(7)));
        assert_eq!(partial.id(), Uuid::from_u128(7));
        assert!(partial.full().is_none());
        // A failed load is not kept: the next caller tries again.
        let failed = partial.full_or_load(|| async { Err("down") }).await;
        assert_eq!(failed.err(), Some("down"));
        let loaded = partial
            .full_or_load(|| async { Ok::<_, &str>(Arc::new(row())) })
            .await;
        assert_eq!(loaded.map(|m| m.name.as_str()), Ok("whole"));
        let again = partial
            .full_or_load(|| async { Err::<Arc<Row>, &str>("must not load twice") })
            .await;
        assert_eq!(again.map(|m| m.name.as_str()), Ok("whole"));
        assert!(partial.full().is_some());
    }

    #[test]
    fn prefetched_tells_not_fetched_from_fetched_but_absent() {
        let not_fetched: Prefetched<Option<u8>> = Prefetched::default();
        assert_eq!(not_fetched.fetched(), None);
        let absent = Prefetched::Fetched(None::<u8>);
        assert_eq!(absent.fetched(), Some(&None));
        let doubled = Prefetched::Fetched(Some(2))
            .as_ref()
            .map(|v| v.map(|n| n * 2));
        assert_eq!(doubled.fetched(), Some(&Some(4)));
        assert_eq!(not_fetched.map(|_| 1).fetched(), None);
    }
}
