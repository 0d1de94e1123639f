//! The access-log spool: each source bucket's records appended to a segment file as they
//! come (one `write` per line, so a `kill -9` keeps every line written), closed into a
//! ready file by count or age, and removed only once its log object is in the store.
//!
//! Files, in `<data-dir>/access-logs/` (0700, each file 0600):
//! - `<seq>~<bucket>~<first-ms>.open`: the segment being written;
//! - `<seq>~<bucket>~<first-ms>~<closed-ms>.ready`: closed, waiting for delivery;
//! - `….ready.damaged`: a closed segment whose header line is not a logging configuration,
//!   set aside by delivery (its records have nowhere to go) for an operator to look at.
//!
//! A segment with no complete header line (a crash between creating the file and writing
//! it) holds no record and is removed by delivery: records are appended only after it.
//!
//! A segment's first line is the bucket's `LoggingEnabled` (JSON) when the segment began, so
//! its records go where logging pointed when they were made, and its log object's key is the
//! same at every attempt (the delivery checks for it before writing: never delivered twice).
//!
//! A record is one line. A response with a streamed body is written twice ([`Line`]): a
//! started line (`\x01S<request id>\x01<line>`) before its first byte is sent, and its
//! finished line (`\x01F<request id>\x01<line>`), which replaces it when the segment is read
//! — if both are in the same segment; when the segment closed in between, the started line
//! stands (with bytes sent and total time `-`). A crash mid-transfer leaves the started line,
//! so every response that began is delivered exactly once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use leadshop_spec::logging::LoggingEnabled;

/// Counters of the spool and of delivery (console `/metrics`).
#[derive(Debug, Default)]
pub struct SpoolStats {
    /// Records appended to a segment.
    pub spooled: AtomicU64,
    /// Records that could not be appended (a full disk); logged as errors.
    pub write_failures: AtomicU64,
    /// Log objects written to target buckets.
    pub objects_delivered: AtomicU64,
    /// Records in delivered log objects.
    pub records_delivered: AtomicU64,
    /// Records not delivered because the target bucket is gone or its policy no longer lets
    /// the logging service write (as on AWS, they are dropped).
    pub records_refused: AtomicU64,
    /// Delivery attempts that failed and will be retried.
    pub delivery_failures: AtomicU64,
    /// Segments whose header could not be read, set aside as `.damaged` (logged as errors).
    pub segments_damaged: AtomicU64,
}

/// One record to spool.
#[derive(Debug, Clone, Copy)]
pub enum Line<'a> {
    /// A request that is over: its line as delivered.
    Finished {
        /// Its request id.
        id: &'a str,
        /// The log line.
        line: &'a str,
    },
    /// A response whose body is about to be sent: stands for the request until its finished
    /// line replaces it.
    Started {
        /// Its request id.
        id: &'a str,
        /// The log line (bytes sent and total time not known yet).
        line: &'a str,
    },
}

/// Started lines remembered until their finished line comes.
const MAX_STARTED: usize = 65_536;

/// The marker that opens a started or finished line in a segment (never the first byte of a
/// log line, which is the bucket owner's id).
const MARK: u8 = 0x01;

struct Open {
    /// The configuration the segment began under (compared by pointer first: it changes only
    /// when the bucket's configuration does).
    logging: std::sync::Arc<LoggingEnabled>,
    file: File,
    path: PathBuf,
    seq: u64,
    bucket: String,
    first_ms: i64,
    records: usize,
}

/// A closed segment, waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// Its file.
    pub path: PathBuf,
    /// Its number, unique in this data directory.
    pub seq: u64,
    /// The source bucket.
    pub bucket: String,
    /// The time of its first record.
    pub first_ms: i64,
    /// When it was closed: the log object's delivery time.
    pub closed_ms: i64,
}

/// What a closed segment holds.
#[derive(Debug)]
pub enum Segment {
    /// Its records, and where they go.
    Records(Contents),
    /// No complete header line, hence no record: a crash (or a full disk) came between
    /// creating the file and writing its first line.
    Empty,
    /// A header line that is not a logging configuration: nowhere to deliver its records.
    Damaged(String),
}

/// A closed segment's contents.
#[derive(Debug)]
pub struct Contents {
    /// Where its records go.
    pub logging: LoggingEnabled,
    /// The log lines, each ending in a newline (a last line cut short by a crash is left out).
    pub body: Vec<u8>,
    /// How many lines.
    pub records: u64,
}

/// The spool.
pub struct Spool {
    dir: PathBuf,
    max_records: usize,
    open: Mutex<HashMap<String, Open>>,
    /// Request id → the segment its started line is in, until its finished line comes
    /// (taken under `open`'s lock, after it).
    started: Mutex<HashMap<String, u64>>,
    next_seq: AtomicU64,
    /// Counters.
    pub stats: SpoolStats,
    /// Woken when a segment closes by count, so delivery need not wait for its tick.
    pub closed: tokio::sync::Notify,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn parse_name(name: &str) -> Option<(u64, String, i64, Option<i64>)> {
    let (stem, ready) = if let Some(s) = name.strip_suffix(".ready") {
        (s, true)
    } else {
        (name.strip_suffix(".open")?, false)
    };
    let mut parts = stem.split('~');
    let seq = u64::from_str_radix(parts.next()?, 16).ok()?;
    let bucket = parts.next()?.to_string();
    let first_ms = parts.next()?.parse().ok()?;
    let closed_ms = if ready {
        Some(parts.next()?.parse().ok()?)
    } else {
        None
    };
    parts
        .next()
        .is_none()
        .then_some((seq, bucket, first_ms, closed_ms))
}

impl Spool {
    /// Opens the spool in `dir`, closing segments a previous run left open (at `now_ms`).
    ///
    /// # Errors
    /// The directory cannot be made or read.
    pub fn open(dir: &Path, max_records: usize, now_ms: i64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let mut max_seq = 0;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((seq, bucket, first_ms, closed)) = parse_name(&name) else {
                continue;
            };
            max_seq = max_seq.max(seq);
            if closed.is_none() {
                std::fs::rename(
                    entry.path(),
                    dir.join(format!("{seq:016x}~{bucket}~{first_ms}~{now_ms}.ready")),
                )?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            max_records: max_records.max(1),
            open: Mutex::new(HashMap::new()),
            started: Mutex::new(HashMap::new()),
            next_seq: AtomicU64::new(first_seq(max_seq, now_ms)),
            stats: SpoolStats::default(),
            closed: tokio::sync::Notify::new(),
        })
    }

    /// Appends one record of `bucket`, whose logging goes to `logging`. A segment begun under
    /// another logging configuration is closed first.
    pub fn append(
        &self,
        bucket: &str,
        logging: &std::sync::Arc<LoggingEnabled>,
        line: Line<'_>,
        time_ms: i64,
        now_ms: i64,
    ) {
        let mut open = self.open.lock().expect("spool lock");
        if open.get(bucket).is_some_and(|o| {
            !std::sync::Arc::ptr_eq(&o.logging, logging) && *o.logging != **logging
        }) && let Some(o) = open.remove(bucket)
        {
            self.close(o, now_ms);
        }
        // A finished line replaces a started one only in the segment that holds it.
        let mut started = self.started.lock().expect("spool lock");
        let (buf, counts) = match line {
            Line::Started { id, line } => (marked(b'S', id, line), true),
            Line::Finished { id, line } => match started.remove(id) {
                None => (format!("{line}\n").into_bytes(), true),
                Some(seq) if open.get(bucket).is_some_and(|o| o.seq == seq) => {
                    (marked(b'F', id, line), false)
                }
                // Its segment closed meanwhile: the started line stands for it.
                Some(_) => return,
            },
        };
        if !open.contains_key(bucket) {
            match self.begin(bucket, logging, time_ms) {
                Ok(o) => {
                    open.insert(bucket.to_string(), o);
                }
                Err(e) => {
                    self.stats.write_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(bucket, error = %e, "cannot spool an access-log record; it is lost");
                    return;
                }
            }
        }
        let o = open.get_mut(bucket).expect("just inserted");
        if let Err(e) = o.file.write_all(&buf) {
            self.stats.write_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(bucket, error = %e, "cannot spool an access-log record; it is lost");
            return;
        }
        if let Line::Started { id, .. } = line {
            // Entries wait for their finished line, which comes unless a full event queue
            // dropped it: past this many, those of closed segments are forgotten.
            if started.len() >= MAX_STARTED {
                let open_seqs: Vec<u64> = open.values().map(|o| o.seq).collect();
                started.retain(|_, s| open_seqs.contains(s));
            }
            let o = open.get_mut(bucket).expect("written above");
            started.insert(id.to_string(), o.seq);
        }
        let o = open.get_mut(bucket).expect("written above");
        if !counts {
            return;
        }
        self.stats.spooled.fetch_add(1, Ordering::Relaxed);
        o.records += 1;
        if o.records >= self.max_records
            && let Some(o) = open.remove(bucket)
        {
            self.close(o, now_ms);
            self.closed.notify_one();
        }
    }

    fn begin(
        &self,
        bucket: &str,
        logging: &std::sync::Arc<LoggingEnabled>,
        first_ms: i64,
    ) -> std::io::Result<Open> {
        let header = serde_json::to_string(logging.as_ref()).expect("serialisable");
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let path = self
            .dir
            .join(format!("{seq:016x}~{bucket}~{first_ms}.open"));
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        if let Err(e) = file.write_all(format!("{header}\n").as_bytes()) {
            // Not left for a later start to find (it would be an empty segment).
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(Open {
            logging: logging.clone(),
            file,
            path,
            seq,
            bucket: bucket.to_string(),
            first_ms,
            records: 0,
        })
    }

    fn close(&self, o: Open, now_ms: i64) {
        let ready = self.dir.join(format!(
            "{:016x}~{}~{}~{now_ms}.ready",
            o.seq, o.bucket, o.first_ms
        ));
        drop(o.file);
        if let Err(e) = std::fs::rename(&o.path, &ready) {
            // Left `.open`: the next start closes it.
            tracing::error!(path = %o.path.display(), error = %e, "cannot close an access-log segment");
        }
    }

    /// Closes every segment begun at or before `cutoff_ms` (all of them with `i64::MAX`).
    pub fn close_older(&self, cutoff_ms: i64, now_ms: i64) {
        let mut open = self.open.lock().expect("spool lock");
        let due: Vec<String> = open
            .iter()
            .filter(|(_, o)| o.first_ms <= cutoff_ms)
            .map(|(b, _)| b.clone())
            .collect();
        for b in due {
            if let Some(o) = open.remove(&b) {
                self.close(o, now_ms);
            }
        }
    }

    /// The closed segments, oldest first.
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn ready(&self) -> std::io::Result<Vec<Ready>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((seq, bucket, first_ms, Some(closed_ms))) = parse_name(&name) {
                out.push(Ready {
                    path: entry.path(),
                    seq,
                    bucket,
                    first_ms,
                    closed_ms,
                });
            }
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// The time of the oldest record not yet delivered, if any.
    #[must_use]
    pub fn oldest_pending_ms(&self) -> Option<i64> {
        let open = self
            .open
            .lock()
            .expect("spool lock")
            .values()
            .map(|o| o.first_ms)
            .min();
        let ready = self
            .ready()
            .ok()
            .and_then(|r| r.iter().map(|r| r.first_ms).min());
        match (open, ready) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The first sequence number of a run: after every one on disk, and after every one an
/// earlier run can have used although its segments are delivered and gone (a segment's log
/// object key derives from its number: a number used again could name an object already
/// written, and its records would be taken as delivered). Runs start later in time than
/// earlier runs' segments were made, at far fewer than 1024 segments a millisecond.
fn first_seq(max_on_disk: u64, now_ms: i64) -> u64 {
    let by_time = u64::try_from(now_ms).unwrap_or(0).saturating_mul(1024);
    (max_on_disk + 1).max(by_time)
}

/// `\x01<kind><id>\x01<line>\n`.
fn marked(kind: u8, id: &str, line: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(id.len() + line.len() + 4);
    buf.extend_from_slice(&[MARK, kind]);
    buf.extend_from_slice(id.as_bytes());
    buf.push(MARK);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    buf
}

/// A marked line's kind, request id and log line; `None` for a plain line.
fn unmark(line: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let rest = line.strip_prefix(&[MARK])?;
    let (&kind, rest) = rest.split_first()?;
    let end = rest.iter().position(|&b| b == MARK)?;
    Some((kind, &rest[..end], &rest[end + 1..]))
}

/// The log lines of a segment's records: a started line whose finished line is in the same
/// segment is left out (the finished one stands in its place), markers are removed.
fn resolve(body: &[u8]) -> (Vec<u8>, u64) {
    let lines = || body.split_inclusive(|&b| b == b'\n');
    let finished: std::collections::HashSet<&[u8]> = lines()
        .filter_map(unmark)
        .filter(|(kind, _, _)| *kind == b'F')
        .map(|(_, id, _)| id)
        .collect();
    let mut out = Vec::with_capacity(body.len());
    let mut records = 0;
    for line in lines() {
        let text = match unmark(line) {
            None => line,
            Some((b'S', id, _)) if finished.contains(id) => continue,
            Some((_, _, text)) => text,
        };
        out.extend_from_slice(text);
        records += 1;
    }
    (out, records)
}

impl Ready {
    /// Reads the segment.
    ///
    /// # Errors
    /// It cannot be read.
    pub fn read(&self) -> std::io::Result<Segment> {
        let text = std::fs::read(&self.path)?;
        let Some(header_end) = text.iter().position(|&b| b == b'\n') else {
            // Records are appended only after the whole header line is written.
            return Ok(Segment::Empty);
        };
        let logging: LoggingEnabled = match serde_json::from_slice(&text[..header_end]) {
            Ok(l) => l,
            Err(e) => return Ok(Segment::Damaged(e.to_string())),
        };
        let mut body = &text[header_end + 1..];
        // A line cut short (a crash mid-write, a full disk) is not a record.
        match body.iter().rposition(|&b| b == b'\n') {
            Some(end) => body = &body[..=end],
            None => body = &[],
        }
        let (body, records) = resolve(body);
        Ok(Segment::Records(Contents {
            logging,
            body,
            records,
        }))
    }

    /// Renames the segment to `<name>.damaged`, out of the delivery queue, for an operator.
    ///
    /// # Errors
    /// It cannot be renamed.
    pub fn set_aside(&self) -> std::io::Result<PathBuf> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".damaged");
        let to = self.path.with_file_name(name);
        std::fs::rename(&self.path, &to)?;
        Ok(to)
    }

    /// Removes the segment (its records are delivered, or refused).
    ///
    /// # Errors
    /// It cannot be removed.
    pub fn remove(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
