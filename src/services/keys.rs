//! `column IN (keys)` for statements that take many keys at once.

use sea_orm::{
    ColumnTrait, DbBackend, Value,
    sea_query::{Expr, ExprTrait, PgFunc, SimpleExpr},
};

/// `column IN (keys)`. On PostgreSQL it is `column = ANY($1)` with one array parameter, so
/// the statement's text (and its prepared plan) is the same for any number of keys, as the
/// loaders do (`graphql/loaders` call this); elsewhere an `IN` list.
pub fn any_of<C, V>(backend: DbBackend, column: C, keys: &[V]) -> SimpleExpr
where
    C: ColumnTrait,
    V: Clone + Into<Value>,
    Vec<V>: Into<Value>,
{
    match backend {
        DbBackend::Postgres => Expr::col(column).eq(PgFunc::any(Expr::val(keys.to_vec()))),
        _ => column.is_in(keys.iter().cloned()),
    }
}
