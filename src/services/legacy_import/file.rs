//! Reading the export: a JSON array of bookings, streamed element by element (the file is
//! never held in memory), with the line each element starts on.
//!
//! [`check`] reads the whole file once first: its SHA-256 (a rerun of the same file
//! resumes its job), how many rows it holds (the progress bar's length), and whether it is
//! valid JSON at all, so a broken file stops with the line and column of the problem before
//! anything is written. [`stream`] then reads it again, handing each element over as raw
//! JSON text.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::ImportError;

/// What a first pass over the file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// SHA-256 of the file's bytes, in hex.
    pub sha256: String,
    /// Rows (array elements) in the file.
    pub rows: u64,
    /// The file's size.
    pub bytes: u64,
}

/// One element of the array, as it is in the file.
pub(super) struct RawRow {
    /// Its place in the array, from 1.
    pub ordinal: u64,
    /// The line it starts on, from 1.
    pub line: u64,
    /// Its JSON text, exactly as in the file.
    pub raw: Box<RawValue>,
}

fn open(path: &Path) -> Result<File, ImportError> {
    File::open(path).map_err(|e| ImportError::Io(format!("cannot open {}: {e}", path.display())))
}

fn json_error(path: &Path, e: serde_json::Error) -> ImportError {
    if e.is_io() {
        return ImportError::Io(format!("cannot read {}: {e}", path.display()));
    }
    // serde_json appends " at line L column C" to its message; keep the bare message.
    let message = e.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m)
        .to_string();
    ImportError::Json {
        line: e.line() as u64,
        column: e.column() as u64,
        message,
    }
}

/// A reader that hashes every byte read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Counts the rows of a JSON array without keeping them.
struct CountRows;

impl<'de> Visitor<'de> for CountRows {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of bookings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut rows = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            rows += 1;
        }
        Ok(rows)
    }
}

/// Reads the whole file once: its hash, its rows, and whether it is one valid JSON array.
pub fn check(path: &Path) -> Result<FileCheck, ImportError> {
    let mut hashing = Hashing {
        inner: open(path)?,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let rows = {
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(&mut hashing));
        let rows = de::Deserializer::deserialize_seq(&mut de, CountRows)
            .map_err(|e| json_error(path, e))?;
        // Only whitespace may follow the array (this reads to the end of the file, so every
        // byte has been hashed).
        de.end().map_err(|e| json_error(path, e))?;
        rows
    };
    // Anything the JSON reader did not need is hashed too.
    io::copy(&mut hashing, &mut io::sink())
        .map_err(|e| ImportError::Io(format!("cannot read {}: {e}", path.display())))?;
    Ok(FileCheck {
        sha256: hex::encode(hashing.hasher.finalize()),
        rows,
        bytes: hashing.bytes,
    })
}

/// A reader that counts the newlines read through it. It sits above the buffer, where the
/// JSON reader takes one byte at a time, so the count is exactly the lines consumed.
struct LineCounting<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let seen = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        if seen > 0 {
            self.newlines.set(self.newlines.get() + seen);
        }
        Ok(n)
    }
}

/// Hands each element of the array to `send`, in order; stops early (with an error) when
/// `send` says the receiver has gone.
struct EachRow<'a, F> {
    newlines: Rc<Cell<u64>>,
    send: &'a mut F,
}

impl<'de, F: FnMut(RawRow) -> bool> Visitor<'de> for EachRow<'_, F> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of bookings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut ordinal = 0;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            ordinal += 1;
            // The newlines read so far end with the element's own: it starts that many
            // lines earlier.
            let own = raw.get().bytes().filter(|&b| b == b'\n').count() as u64;
            let line = 1 + self.newlines.get().saturating_sub(own);
            if !(self.send)(RawRow { ordinal, line, raw }) {
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(ordinal)
    }
}

impl<'de, F: FnMut(RawRow) -> bool> DeserializeSeed<'de> for EachRow<'_, F> {
    type Value = u64;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

const STOPPED: &str = "the import stopped reading the file";

/// Reads the file's array, calling `send` with each element in order, and returns how many
/// there were. Blocking: run it on a thread of its own.
pub(super) fn stream(
    path: &Path,
    mut send: impl FnMut(RawRow) -> bool,
) -> Result<u64, ImportError> {
    let newlines = Rc::new(Cell::new(0));
    let reader = LineCounting {
        inner: BufReader::with_capacity(64 * 1024, open(path)?),
        newlines: newlines.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let rows = EachRow {
        newlines,
        send: &mut send,
    }
    .deserialize(&mut de)
    .map_err(|e| {
        if e.to_string().starts_with(STOPPED) {
            ImportError::Stopped
        } else {
            json_error(path, e)
        }
    })?;
    de.end().map_err(|e| json_error(path, e))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn rows_are_streamed_with_the_line_they_start_on() {
        let f = file("[\n{\"id\": \"a\"},\n{\"id\":\n \"b\"}, {\"id\": \"c\"}\n]\n");
        let mut got = Vec::new();
        let n = stream(f.path(), |r| {
            got.push((r.ordinal, r.line, r.raw.get().to_string()));
            true
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            got,
            vec![
                (1, 2, "{\"id\": \"a\"}".to_string()),
                (2, 3, "{\"id\":\n \"b\"}".to_string()),
                (3, 4, "{\"id\": \"c\"}".to_string()),
            ]
        );
        let checked = check(f.path()).unwrap();
        assert_eq!(checked.rows, 3);
        let mut hasher = Sha256::new();
        hasher.write_all(&std::fs::read(f.path()).unwrap()).unwrap();
        assert_eq!(checked.sha256, hex::encode(hasher.finalize()));
    }

    #[test]
    fn invalid_json_is_reported_with_line_and_column() {
        let f = file("[\n{\"id\": \"a\"},\n{\"id\" \"b\"}\n]");
        match check(f.path()) {
            Err(ImportError::Json { line, column, .. }) => assert_eq!((line, column), (3, 7)),
            other => panic!("{other:?}"),
        }
        let f = file("{\"id\": \"a\"}");
        assert!(matches!(
            check(f.path()),
            Err(ImportError::Json { line: 1, .. })
        ));
        let f = file("[{\"id\": \"a\"}] trailing");
        assert!(matches!(check(f.path()), Err(ImportError::Json { .. })));
    }
}
