//! A certificate as a one-page PDF (A4 landscape), made in-process with `pdf-writer`.
//!
//! The text is set in Helvetica and Helvetica-Bold, two of the PDF standard fonts every
//! reader has, so nothing is embedded and the text can be selected, searched and extracted.
//! Those fonts cover Windows-1252 (`WinAnsiEncoding`): English and Western European
//! names print as they are; a letter outside it (`Ł`, `Ș`, Cyrillic, …) prints as its
//! nearest ASCII spelling (`deunicode`).

use chrono::NaiveDate;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::entities::enums::CourseType;
use crate::services::catalogue::course_code;

/// The training provider named on every certificate.
pub const PROVIDER: &str = "React Fast Training";

/// What a certificate shows.
#[derive(Debug, Clone)]
pub struct CertificateDocument {
    pub holder_name: String,
    pub course_name: String,
    pub course_type: CourseType,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub certificate_number: String,
    /// Where an employer checks it (see [`verification_url`]).
    pub verification_url: String,
}

/// The page that checks a certificate: `{public_url}/verify`. The website's page calls
/// `verifyCertificate` with the number the reader types in, or with `?number=` from this
/// link.
pub fn verification_url(public_url: &str, certificate_number: &str) -> String {
    format!(
        "{}/verify?number={certificate_number}",
        public_url.trim_end_matches('/')
    )
}

/// A course type's full name and its code, as printed: "First Aid at Work (FAW)".
pub fn course_type_label(course_type: CourseType) -> String {
    let name = match course_type {
        CourseType::Efaw => "Emergency First Aid at Work",
        CourseType::Faw => "First Aid at Work",
        CourseType::Paediatric => "Paediatric First Aid",
    };
    format!("{name} ({})", course_code(course_type))
}

/// A date as a UK reader writes it: "3 December 2026".
pub fn long_date(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

// A4 landscape, in points.
const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const MARGIN: f32 = 24.0;
/// The widest a line of text may be; longer lines are set smaller.
const TEXT_WIDTH: f32 = WIDTH - 160.0;
/// The brand colour of the borders and the provider's name (a dark teal).
const BRAND: (f32, f32, f32) = (0.04, 0.33, 0.40);
const GREY: (f32, f32, f32) = (0.35, 0.35, 0.35);
const BLACK: (f32, f32, f32) = (0.0, 0.0, 0.0);

/// The certificate as the bytes of a PDF file.
pub fn render(doc: &CertificateDocument) -> Vec<u8> {
    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
        .parent(pages)
        .contents(contents);
    let mut resources = p.resources();
    let mut fonts = resources.fonts();
    fonts.pair(Font::Regular.resource(), regular);
    fonts.pair(Font::Bold.resource(), bold);
    fonts.finish();
    resources.finish();
    p.finish();
    for (id, font) in [(regular, Font::Regular), (bold, Font::Bold)] {
        pdf.type1_font(id)
            .base_font(font.base_font())
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!("Certificate {}", doc.certificate_number);
    pdf.document_info(info)
        .title(TextStr(&title))
        .author(TextStr(PROVIDER))
        .creator(TextStr("rft-users"));
    let body = page_content(doc);
    pdf.stream(contents, &body);
    pdf.finish()
}

fn page_content(doc: &CertificateDocument) -> Vec<u8> {
    let mut page = Page(Content::new());
    page.borders();
    let centre = WIDTH / 2.0;
    page.line(
        Font::Bold,
        16.0,
        BRAND,
        centre,
        520.0,
        &PROVIDER.to_uppercase(),
    );
    page.line(
        Font::Bold,
        34.0,
        BLACK,
        centre,
        468.0,
        "Certificate of Training",
    );
    page.line(
        Font::Regular,
        14.0,
        GREY,
        centre,
        425.0,
        "This is to certify that",
    );
    page.line(Font::Bold, 30.0, BLACK, centre, 382.0, &doc.holder_name);
    page.line(
        Font::Regular,
        14.0,
        GREY,
        centre,
        345.0,
        "has successfully completed",
    );
    page.line(Font::Bold, 20.0, BLACK, centre, 310.0, &doc.course_name);
    let course_type = format!("Course type: {}", course_type_label(doc.course_type));
    page.line(Font::Regular, 12.0, GREY, centre, 286.0, &course_type);

    // Three columns: issued, expires, number.
    let columns = [
        ("Date of issue", long_date(doc.issued_on)),
        ("Expiry date", long_date(doc.expires_on)),
        ("Certificate number", doc.certificate_number.clone()),
    ];
    let column_width = (WIDTH - 2.0 * 80.0) / 3.0;
    for (i, (label, value)) in columns.iter().enumerate() {
        let x = 80.0 + column_width * (i as f32 + 0.5);
        page.fitted(
            Font::Regular,
            11.0,
            GREY,
            x,
            228.0,
            column_width - 10.0,
            label,
        );
        page.fitted(
            Font::Bold,
            14.0,
            BLACK,
            x,
            210.0,
            column_width - 10.0,
            value,
        );
    }

    let issuer = format!("Issued by {PROVIDER}");
    page.line(Font::Regular, 12.0, BLACK, centre, 150.0, &issuer);
    let check = "To check that this certificate is genuine and current, with its number, visit";
    page.line(Font::Regular, 10.0, GREY, centre, 90.0, check);
    page.line(
        Font::Regular,
        11.0,
        BRAND,
        centre,
        74.0,
        &doc.verification_url,
    );
    page.0.finish().into_vec()
}

/// The content stream of the page being drawn.
struct Page(Content);

impl Page {
    fn borders(&mut self) {
        let (r, g, b) = BRAND;
        let c = &mut self.0;
        c.set_stroke_rgb(r, g, b);
        c.set_line_width(3.0);
        c.rect(MARGIN, MARGIN, WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
        c.stroke();
        c.set_line_width(0.75);
        let inset = MARGIN + 8.0;
        c.rect(inset, inset, WIDTH - 2.0 * inset, HEIGHT - 2.0 * inset);
        c.stroke();
    }

    /// One line of text centred on `x`, as wide as the page allows.
    fn line(&mut self, font: Font, size: f32, colour: Rgb, x: f32, y: f32, text: &str) {
        self.fitted(font, size, colour, x, y, TEXT_WIDTH, text);
    }

    /// One line of text centred on `x`, set smaller (down to 6 pt) when it would be wider
    /// than `max_width`.
    #[allow(clippy::too_many_arguments)]
    fn fitted(
        &mut self,
        font: Font,
        size: f32,
        colour: Rgb,
        x: f32,
        y: f32,
        max_width: f32,
        text: &str,
    ) {
        let (bytes, units) = win_ansi(font, text);
        let natural = units * size / 1000.0;
        let size = if natural > max_width {
            (size * max_width / natural).max(6.0)
        } else {
            size
        };
        let width = units * size / 1000.0;
        let (r, g, b) = colour;
        let c = &mut self.0;
        c.set_fill_rgb(r, g, b);
        c.begin_text();
        c.set_font(font.resource(), size);
        c.next_line(x - width / 2.0, y);
        c.show(Str(&bytes));
        c.end_text();
    }
}

type Rgb = (f32, f32, f32);

/// The two faces used.
#[derive(Debug, Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    fn base_font(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"Helvetica"),
            Font::Bold => Name(b"Helvetica-Bold"),
        }
    }

    /// The advance width of a printable ASCII character, in thousandths of the font size
    /// (from Adobe's font metrics for the standard fonts).
    fn width(self, ascii: u8) -> f32 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        match ascii {
            32..=126 => f32::from(table[usize::from(ascii - 32)]),
            _ => 556.0,
        }
    }
}

/// Text in `WinAnsiEncoding` (Windows-1252), with its width in thousandths of the font
/// size. A character outside the encoding becomes its ASCII transliteration; a control
/// character, a space.
fn win_ansi(font: Font, text: &str) -> (Vec<u8>, f32) {
    let mut bytes = Vec::with_capacity(text.len());
    let mut units = 0.0;
    // The width of an accented letter is taken as its base letter's.
    let base = |ch: char| {
        deunicode::deunicode_char(ch)
            .and_then(|s| s.bytes().next())
            .unwrap_or(b'n')
    };
    for ch in text.chars() {
        match ch {
            ' '..='~' => {
                bytes.push(ch as u8);
                units += font.width(ch as u8);
            }
            '\u{a0}'..='\u{ff}' => {
                bytes.push(ch as u32 as u8);
                units += font.width(base(ch));
            }
            _ if cp1252_upper(ch).is_some() => {
                bytes.extend(cp1252_upper(ch));
                units += font.width(base(ch));
            }
            _ if ch.is_control() || ch.is_whitespace() => {
                bytes.push(b' ');
                units += font.width(b' ');
            }
            _ => {
                for b in deunicode::deunicode_char(ch).unwrap_or("?").bytes() {
                    if (32..=126).contains(&b) {
                        bytes.push(b);
                        units += font.width(b);
                    }
                }
            }
        }
    }
    (bytes, units)
}

/// Windows-1252's characters at 0x80 to 0x9F.
fn cp1252_upper(ch: char) -> Option<u8> {
    const TABLE: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    TABLE.iter().find(|(c, _)| *c == ch).map(|(_, b)| *b)
}

/// Helvetica's widths of the characters 32 (space) to 126 (`~`).
#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Helvetica-Bold's widths of the characters 32 (space) to 126 (`~`).
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_as_windows_1252_and_measured() {
        let (bytes, units) = win_ansi(Font::Regular, "Zoë O’Brien");
        assert_eq!(bytes, b"Zo\xEB O\x92Brien");
        let (plain, plain_units) = win_ansi(Font::Regular, "Zoe O'Brien");
        assert_eq!(plain.len(), bytes.len());
        assert!((units - plain_units).abs() < 200.0);
        assert_eq!(win_ansi(Font::Bold, "Łukasz\tNowak").0, b"Lukasz Nowak");
        assert_eq!(win_ansi(Font::Regular, "AV").1, 667.0 * 2.0);
    }

    #[test]
    fn the_verification_url_ignores_a_trailing_slash() {
        assert_eq!(
            verification_url("https://example.com/", "RFT-FAW-2026-ABC"),
            "https://example.com/verify?number=RFT-FAW-2026-ABC"
        );
    }
}
