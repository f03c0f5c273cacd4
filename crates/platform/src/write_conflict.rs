//! [`write_conflict_from_db!`](crate::write_conflict_from_db): telling a write that lost a
//! race from a database fault. The catalog and quote each carried the same test and the
//! same conversion.

/// The database error a store converts from.
pub type DbErr = sea_orm::DbErr;

/// Whether `error` is SQLite refusing a second concurrent writer (SQLITE_BUSY) instead of
/// queueing it: a conflict for the caller to retry, not a server fault.
pub fn is_concurrent_write(error: &DbErr) -> bool {
    error.to_string().contains("database is locked")
}

/// Implements `From<DbErr>` for a store's error enum: a concurrent write becomes its
/// `WriteConflict` variant, any other error its `Database(DbErr)` variant.
#[macro_export]
macro_rules! write_conflict_from_db {
    ($store_error:ident) => {
        impl From<$crate::write_conflict::DbErr> for $store_error {
            fn from(error: $crate::write_conflict::DbErr) -> Self {
                if $crate::write_conflict::is_concurrent_write(&error) {
                    Self::WriteConflict
                } else {
                    Self::Database(error)
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_locked_database_is_a_concurrent_write() {
        let locked = DbErr::Custom("error returned from database: database is locked".into());
        assert!(is_concurrent_write(&locked));
        assert!(!is_concurrent_write(&DbErr::Custom("syntax error".into())));
    }
}
