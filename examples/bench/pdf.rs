//! `--scenario pdf`: certificate PDFs rendered in-process, as `GET /certificates/{id}.pdf`
//! renders them (`services::certificates::pdf::render`), one after another on one thread
//! for `--seconds`. Reports renders per second and the size of one PDF. It needs no
//! database and no server: the download's other costs are one read and one insert.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rft_users::config::DEFAULT_PUBLIC_URL;
use rft_users::entities::enums::CourseType;
use rft_users::services::certificates::pdf::{self, CertificateDocument};

pub fn run(seconds: u64) -> anyhow::Result<()> {
    let number = "RFT-FAW-2026-7K3M9QX2TB";
    let doc = CertificateDocument {
        holder_name: "Siân O’Brien-Llewellyn".into(),
        course_name: "First Aid at Work".into(),
        course_type: CourseType::Faw,
        issued_on: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default(),
        expires_on: NaiveDate::from_ymd_opt(2029, 12, 3).unwrap_or_default(),
        certificate_number: number.into(),
        verification_url: pdf::verification_url(DEFAULT_PUBLIC_URL, number),
    };
    // Warm-up.
    let size = pdf::render(&doc).len();
    let period = Duration::from_secs(seconds.max(1));
    let started = Instant::now();
    let mut renders = 0u64;
    while started.elapsed() < period {
        std::hint::black_box(pdf::render(std::hint::black_box(&doc)));
        renders += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "pdf: {renders} certificates in {elapsed:.1} s on one thread: {:.0} renders/s, {:.1} µs each, {size} bytes each",
        renders as f64 / elapsed,
        elapsed * 1e6 / renders as f64,
    );
    Ok(())
}
