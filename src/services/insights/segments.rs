//! RFM scores and the named segments: the quintile boundaries are computed in SQL over the
//! scored customers, the scores and segments set by two `UPDATE`s (no loop over customers
//! in Rust), and the one table [`RULES`] maps scores to segments (the README prints it).

use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::{Deserialize, Serialize};

use crate::entities::enums::CustomerSegment;
use crate::error::AppResult;
use crate::services::sql::Sql;

/// One line of the segment table: a customer whose scores fall in every range (and whose
/// booking count matches, where given) is in `segment`. The first matching line wins.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The segment.
    pub segment: CustomerSegment,
    /// Recency score range (5: booked most recently).
    pub recency: (i16, i16),
    /// Frequency score range (5: booked most often).
    pub frequency: (i16, i16),
    /// Monetary score range (5: spent most).
    pub monetary: (i16, i16),
    /// `Some(true)`: exactly one booking; `Some(false)`: more than one; `None`: any.
    pub single_booking: Option<bool>,
}

const ANY: (i16, i16) = (1, 5);

/// The segment table, in order; the last line catches everyone left.
pub const RULES: &[Rule] = &[
    Rule {
        segment: CustomerSegment::Champion,
        recency: (4, 5),
        frequency: (4, 5),
        monetary: (4, 5),
        single_booking: None,
    },
    Rule {
        segment: CustomerSegment::Loyal,
        recency: (3, 5),
        frequency: (4, 5),
        monetary: ANY,
        single_booking: None,
    },
    Rule {
        segment: CustomerSegment::New,
        recency: (3, 5),
        frequency: ANY,
        monetary: ANY,
        single_booking: Some(true),
    },
    Rule {
        segment: CustomerSegment::Promising,
        recency: (3, 5),
        frequency: ANY,
        monetary: ANY,
        single_booking: None,
    },
    Rule {
        segment: CustomerSegment::OneOff,
        recency: (1, 2),
        frequency: ANY,
        monetary: ANY,
        single_booking: Some(true),
    },
    Rule {
        segment: CustomerSegment::AtRisk,
        recency: (1, 2),
        frequency: (3, 5),
        monetary: ANY,
        single_booking: None,
    },
    Rule {
        segment: CustomerSegment::AtRisk,
        recency: (1, 2),
        frequency: ANY,
        monetary: (4, 5),
        single_booking: None,
    },
    Rule {
        segment: CustomerSegment::Lapsed,
        recency: ANY,
        frequency: ANY,
        monetary: ANY,
        single_booking: None,
    },
];

/// The segment of scores `(r, f, m)` with `bookings` bookings, by [`RULES`].
pub fn classify(r: i16, f: i16, m: i16, bookings: i32) -> CustomerSegment {
    let within = |v: i16, (lo, hi): (i16, i16)| lo <= v && v <= hi;
    RULES
        .iter()
        .find(|rule| {
            within(r, rule.recency)
                && within(f, rule.frequency)
                && within(m, rule.monetary)
                && rule.single_booking.is_none_or(|one| one == (bookings == 1))
        })
        .map_or(CustomerSegment::Lapsed, |rule| rule.segment)
}

/// The boundaries between the five quintiles of each measure, as computed at a refresh:
/// for recency the fewest days in each of the four oldest quintiles, for frequency and
/// monetary value the most in each of the four lowest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quintiles {
    /// Days since the last booking.
    pub recency_days: Vec<i64>,
    /// Bookings.
    pub frequency: Vec<i64>,
    /// Net spent, in pence.
    pub monetary_pence: Vec<i64>,
}

#[derive(FromQueryResult)]
struct Boundary {
    measure: String,
    tile: i64,
    edge: i64,
}

/// Computes the quintile boundaries over every row of `customer_insights` (one statement)
/// and sets each row's three scores and segment from them (two statements).
pub async fn score(conn: &impl ConnectionTrait) -> AppResult<Quintiles> {
    let backend = conn.get_database_backend();
    let stmt = Sql::default().statement(
        backend,
        "SELECT 'r' AS measure, tile, MIN(v) AS edge FROM (SELECT CAST(recency_days AS BIGINT) AS v, \
           CAST(NTILE(5) OVER (ORDER BY recency_days DESC) AS BIGINT) AS tile FROM customer_insights) t \
           WHERE tile < 5 GROUP BY tile \
         UNION ALL \
         SELECT 'f' AS measure, tile, MAX(v) AS edge FROM (SELECT CAST(bookings AS BIGINT) AS v, \
           CAST(NTILE(5) OVER (ORDER BY bookings) AS BIGINT) AS tile FROM customer_insights) t \
           WHERE tile < 5 GROUP BY tile \
         UNION ALL \
         SELECT 'm' AS measure, tile, MAX(v) AS edge FROM (SELECT monetary_pence AS v, \
           CAST(NTILE(5) OVER (ORDER BY monetary_pence) AS BIGINT) AS tile FROM customer_insights) t \
           WHERE tile < 5 GROUP BY tile"
            .to_string(),
    );
    let mut rows = Boundary::find_by_statement(stmt).all(conn).await?;
    rows.sort_by(|a, b| a.measure.cmp(&b.measure).then(a.tile.cmp(&b.tile)));
    let mut q = Quintiles::default();
    for b in rows {
        match b.measure.as_str() {
            "r" => q.recency_days.push(b.edge),
            "f" => q.frequency.push(b.edge),
            _ => q.monetary_pence.push(b.edge),
        }
    }

    // A score is 1 plus the number of boundaries the value beats.
    let mut sql = Sql::default();
    let mut beats = |column: &str, op: &str, edges: &[i64]| {
        let mut terms = vec!["1".to_string()];
        for e in edges {
            let p = sql.bind(*e);
            terms.push(format!("(CASE WHEN {column} {op} {p} THEN 1 ELSE 0 END)"));
        }
        terms.join(" + ")
    };
    let r = beats("recency_days", "<", &q.recency_days);
    let f = beats("bookings", ">", &q.frequency);
    let m = beats("monetary_pence", ">", &q.monetary_pence);
    conn.execute_raw(sql.statement(
        backend,
        format!(
            "UPDATE customer_insights SET recency_score = {r}, frequency_score = {f}, \
             monetary_score = {m}"
        ),
    ))
    .await?;

    let mut sql = Sql::default();
    let case = segment_case(&mut sql);
    conn.execute_raw(sql.statement(
        backend,
        format!("UPDATE customer_insights SET segment = {case}"),
    ))
    .await?;
    Ok(q)
}

/// [`RULES`] as one SQL `CASE` over a `customer_insights` row.
fn segment_case(sql: &mut Sql) -> String {
    use sea_orm::ActiveEnum;
    let mut out = String::from("CASE");
    for rule in RULES {
        let mut conds = Vec::new();
        for (column, (lo, hi)) in [
            ("recency_score", rule.recency),
            ("frequency_score", rule.frequency),
            ("monetary_score", rule.monetary),
        ] {
            if (lo, hi) != ANY {
                conds.push(format!("{column} BETWEEN {lo} AND {hi}"));
            }
        }
        match rule.single_booking {
            Some(true) => conds.push("bookings = 1".into()),
            Some(false) => conds.push("bookings > 1".into()),
            None => {}
        }
        let cond = if conds.is_empty() {
            "1 = 1".to_string()
        } else {
            conds.join(" AND ")
        };
        let value = sql.bind(rule.segment.to_value());
        out.push_str(&format!(" WHEN {cond} THEN {value}"));
    }
    out.push_str(" END");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_score_combination_has_a_segment_and_the_table_reads_as_documented() {
        assert_eq!(classify(5, 5, 5, 9), CustomerSegment::Champion);
        assert_eq!(classify(3, 4, 1, 4), CustomerSegment::Loyal);
        assert_eq!(classify(5, 1, 2, 1), CustomerSegment::New);
        assert_eq!(classify(4, 3, 3, 2), CustomerSegment::Promising);
        assert_eq!(classify(1, 1, 5, 1), CustomerSegment::OneOff);
        assert_eq!(classify(2, 3, 1, 3), CustomerSegment::AtRisk);
        assert_eq!(classify(1, 2, 4, 2), CustomerSegment::AtRisk);
        assert_eq!(classify(2, 2, 2, 2), CustomerSegment::Lapsed);
        // The last line catches everything: no combination falls through.
        let last = RULES.last().expect("rules");
        assert_eq!(
            (last.recency, last.frequency, last.monetary),
            (ANY, ANY, ANY)
        );
    }
}
