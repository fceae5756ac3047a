//! Row mapping and the statistics queries of the SQLite backend.

use crate::error::StoreError;
use crate::model::{
    CaseRecord, CaseStatus, Channel, CitizenInput, Count, DayCount, NewContact, Office,
    RequestType, Stats,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The columns `row_to_case` reads, in its order. A macro so that statements can be built with
/// `concat!` at compile time: the hot lookups then format nothing per call.
macro_rules! case_columns {
    () => {
        "number, channel, request_type, event, subject, message, citizen_name, citizen_email,
         citizen_phone, status, received_at, taken_at, taken_by, escalated_at, escalated_by,
         escalation_note, closed_at, closed_by, closed_office, resolution"
    };
}

/// One case by number.
const FETCH_CASE: &str = concat!("SELECT ", case_columns!(), " FROM cases WHERE number = ?1");
/// One page of a queue.
pub(super) const LIST_QUEUE: &str = concat!(
    "SELECT ",
    case_columns!(),
    " FROM cases WHERE status = ?1 AND number > ?2 ORDER BY number LIMIT ?3"
);
/// The newest cases.
pub(super) const RECENT: &str = concat!(
    "SELECT ",
    case_columns!(),
    " FROM cases ORDER BY number DESC LIMIT ?1"
);

pub(super) fn fetch_case(conn: &Connection, number: i64) -> Result<CaseRecord, StoreError> {
    conn.prepare_cached(FETCH_CASE)?
        .query_row(params![number], row_to_case)
        .optional()?
        .ok_or(StoreError::NotFound(number))
}

fn parse_col<T>(
    idx: usize,
    text: &str,
    parse: fn(&str) -> Result<T, String>,
) -> rusqlite::Result<T> {
    parse(text).map_err(|m| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, m.into())
    })
}

pub(super) fn row_to_case(row: &Row<'_>) -> rusqlite::Result<CaseRecord> {
    let channel: String = row.get(1)?;
    let request_type: String = row.get(2)?;
    let status: String = row.get(9)?;
    let office: Option<String> = row.get(18)?;
    Ok(CaseRecord {
        number: row.get(0)?,
        contact: NewContact {
            channel: parse_col(1, &channel, Channel::parse)?,
            request_type: parse_col(2, &request_type, RequestType::parse)?,
            event: row.get(3)?,
            subject: row.get(4)?,
            message: row.get(5)?,
            citizen: CitizenInput {
                name: row.get(6)?,
                email: row.get(7)?,
                phone: row.get(8)?,
            },
        },
        status: parse_col(9, &status, CaseStatus::parse)?,
        received_at: row.get(10)?,
        taken_at: row.get(11)?,
        taken_by: row.get(12)?,
        escalated_at: row.get(13)?,
        escalated_by: row.get(14)?,
        escalation_note: row.get(15)?,
        closed_at: row.get(16)?,
        closed_by: row.get(17)?,
        closed_office: office
            .map(|o| parse_col(18, &o, Office::parse))
            .transpose()?,
        resolution: row.get(19)?,
    })
}

fn labelled_counts(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(Count {
            key: r.get(0)?,
            count: r.get::<_, i64>(1)? as u64,
        })
    })?;
    rows.collect()
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

pub(super) fn compute_stats(conn: &Connection) -> Result<Stats, StoreError> {
    // Everything comes from the trigger-maintained counters (migration 2): no scan of cases.
    let mut s = Stats::default();
    let by_status = labelled_counts(
        conn,
        "SELECT status, sum(n) FROM case_counts GROUP BY status HAVING sum(n) > 0",
    )?;
    s.by_status = CaseStatus::ALL
        .iter()
        .map(|st| Count {
            key: st.as_str().to_owned(),
            count: by_status
                .iter()
                .find(|c| c.key == st.as_str())
                .map_or(0, |c| c.count),
        })
        .collect();
    for c in &by_status {
        s.total += c.count;
        if c.key == CaseStatus::Closed.as_str() {
            s.closed += c.count;
        }
    }
    s.open = s.total - s.closed;
    for c in labelled_counts(
        conn,
        "SELECT closed_office, sum(n) FROM case_counts WHERE status = 'closed'
         GROUP BY closed_office",
    )? {
        match Office::parse(&c.key) {
            Ok(Office::FrontOffice) => s.closed_front_office = c.count,
            Ok(Office::BackOffice) => s.closed_back_office = c.count,
            Err(_) => {}
        }
    }
    s.share_front_office = share(s.closed_front_office, s.total);
    s.share_back_office = share(s.closed_back_office, s.total);
    s.share_open = share(s.open, s.total);
    s.by_channel = labelled_counts(
        conn,
        "SELECT channel, sum(n) FROM case_counts GROUP BY channel HAVING sum(n) > 0
         ORDER BY sum(n) DESC, channel",
    )?;
    s.by_request_type = labelled_counts(
        conn,
        "SELECT request_type, sum(n) FROM case_counts GROUP BY request_type HAVING sum(n) > 0
         ORDER BY sum(n) DESC, request_type",
    )?;
    let mut stmt =
        conn.prepare_cached("SELECT day, received, closed FROM day_counts ORDER BY day")?;
    let rows = stmt.query_map([], |r| {
        let day: i64 = r.get(0)?;
        Ok(DayCount {
            day: chrono::DateTime::from_timestamp(day * 86_400, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            received: r.get::<_, i64>(1)? as u64,
            closed: r.get::<_, i64>(2)? as u64,
        })
    })?;
    s.by_day = rows.collect::<Result<_, _>>()?;
    Ok(s)
}
