//! The interaction list as a file: CSV or XLSX, with the list's columns, in its order, for the
//! rows a query selected (its filters, sort and the caller's rights). Built in memory, as bytes:
//! this module must never touch a file, and never show a row the query did not select.

use crate::conversations::Direction;
use crate::interactions::{Column, EndedBy, Interaction};
use routing_core::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the CSV export: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the XLSX export: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// A cell: text, or a number (durations in seconds, so that a spreadsheet can sum them).
enum Cell {
    Text(String),
    Number(f64),
}

fn cells(row: &Interaction) -> [Cell; 14] {
    let text = |value: Option<&str>| Cell::Text(value.unwrap_or_default().to_owned());
    let time = |at: Timestamp| Cell::Text(crate::rfc3339::format(at));
    let seconds = |ms: u64| Cell::Number(ms as f64 / 1000.0);
    Column::ALL.map(|column| match column {
        Column::Time => time(row.time),
        Column::Queue => text(row.queue.as_ref().map(|q| q.as_str())),
        Column::User => text(row.user.as_ref().map(|u| u.as_str())),
        Column::Contact => text(row.contact.as_deref()),
        Column::ExternalContact => text(Some(row.external_contact.as_str())),
        Column::Title => text(Some(&row.title)),
        Column::Answered => text(Some(if row.answered { "yes" } else { "no" })),
        Column::WaitTime => seconds(row.wait_time_ms),
        Column::Duration => seconds(row.duration_ms),
        Column::EndedBy => text(row.ended_by.map(|by| match by {
            EndedBy::Agent => "agent",
            EndedBy::Customer => "customer",
            EndedBy::System => "system",
        })),
        Column::Connector => text(Some(row.connector.as_str())),
        Column::Missed => text(Some(row.missed.as_export())),
        Column::MissedTime => row.missed_time.map_or(Cell::Text(String::new()), time),
        Column::Direction => text(Some(match row.direction {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        })),
    })
}

pub fn csv(rows: &[Interaction]) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(Column::ALL.map(Column::title))?;
    for row in rows {
        writer.write_record(cells(row).map(|cell| match cell {
            Cell::Text(text) => text,
            Cell::Number(n) => n.to_string(),
        }))?;
    }
    writer
        .into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))
}

pub fn xlsx(rows: &[Interaction]) -> Result<Vec<u8>, ExportError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Interactions")?;
    for (col, column) in Column::ALL.iter().enumerate() {
        sheet.write_string(0, col as u16, column.title())?;
    }
    for (n, row) in rows.iter().enumerate() {
        let at = u32::try_from(n + 1).unwrap_or(u32::MAX);
        for (col, cell) in cells(row).into_iter().enumerate() {
            match cell {
                Cell::Text(text) => sheet.write_string(at, col as u16, text)?,
                Cell::Number(n) => sheet.write_number(at, col as u16, n)?,
            };
        }
    }
    Ok(workbook.save_to_buffer()?)
}
