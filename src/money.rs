//! Money: integer pence in the database, exact `Decimal` pounds in the API. Never `f64`.

use rust_decimal::Decimal;

use crate::error::{AppError, AppResult};

/// Pence as pounds, with two decimal places (`12345` → `123.45`).
pub fn from_pence(pence: i64) -> Decimal {
    Decimal::new(pence, 2)
}

/// Pounds as pence. Rejects more than two decimal places and amounts out of range.
pub fn to_pence(field: &str, amount: Decimal) -> AppResult<i64> {
    let normalised = amount.normalize();
    if normalised.scale() > 2 {
        return Err(AppError::bad_input(
            field,
            format!("{field} has more than two decimal places"),
        ));
    }
    let pence = normalised * Decimal::ONE_HUNDRED;
    i64::try_from(pence.trunc())
        .map_err(|_| AppError::bad_input(field, format!("{field} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn converts_exactly() {
        assert_eq!(from_pence(7500).to_string(), "75.00");
        assert_eq!(
            to_pence("amount", Decimal::from_str("95.1").unwrap()).unwrap(),
            9510
        );
        assert_eq!(
            to_pence("amount", Decimal::from_str("0.10").unwrap()).unwrap(),
            10
        );
        assert!(to_pence("amount", Decimal::from_str("1.005").unwrap()).is_err());
    }
}
