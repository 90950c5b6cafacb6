//! Relay connections built from the services' plain pages.

use async_graphql::{
    OutputType,
    connection::{Connection, Edge},
};

use crate::services::pages::Page;

/// A Relay connection from a page, wrapping each row with `wrap`; each edge's cursor is
/// its row's id.
pub fn from_page<M, N: OutputType>(page: Page<M>, wrap: impl Fn(M) -> N) -> Connection<String, N> {
    let mut c = Connection::new(page.has_previous_page, page.has_next_page);
    c.edges.extend(
        page.rows
            .into_iter()
            .map(|(id, m)| Edge::new(id.to_string(), wrap(m))),
    );
    c
}
