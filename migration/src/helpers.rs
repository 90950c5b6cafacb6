//! Small statement builders shared by the migrations (named indexes and
//! foreign keys), so every migration file reads as a list of columns,
//! constraints and indexes.

use sea_orm_migration::prelude::*;

/// A plain (non-unique) index named `name` on `table(cols...)`.
pub(crate) fn index<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoTableRef,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    stmt
}

/// A unique index named `name` on `table(cols...)`.
pub(crate) fn unique_index<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoTableRef,
    C: IntoIndexColumn,
    I: IntoIterator<Item = C>,
{
    let mut stmt = index(name, table, cols);
    stmt.unique();
    stmt
}

/// A foreign key named `name` from `from_table(from_col)` to `to_table(id)`
/// with the given `ON DELETE` action (`ON UPDATE` is left at the default).
pub(crate) fn foreign_key<F, FC, T, TC>(
    name: &str,
    from_table: F,
    from_col: FC,
    to_table: T,
    to_col: TC,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    F: IntoTableRef,
    FC: IntoIden,
    T: IntoTableRef,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from_tbl(from_table)
        .from_col(from_col)
        .to_tbl(to_table)
        .to_col(to_col)
        .on_delete(on_delete)
        .to_owned()
}
