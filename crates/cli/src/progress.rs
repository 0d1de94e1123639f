//! One progress line on standard error for long CLI work (bench, cleanup, master-key
//! rotation), only when standard error is a terminal: a pipe, a log file or CI gets nothing.
//! Redrawn at most ten times a second, cleared when the work ends.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// How often the line is redrawn at most.
const EVERY: Duration = Duration::from_millis(100);

/// The progress line.
pub(crate) struct Progress {
    terminal: bool,
    drawn: Option<Instant>,
}

impl Progress {
    /// A line on standard error if it is a terminal, else nothing.
    pub(crate) fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            drawn: None,
        }
    }

    /// Shows `text` (unless the line was drawn less than [`EVERY`] ago).
    pub(crate) fn show(&mut self, text: &str) {
        if !self.terminal || self.drawn.is_some_and(|t| t.elapsed() < EVERY) {
            return;
        }
        self.drawn = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
    }

    /// Clears the line (the report that follows starts on a clean line).
    pub(crate) fn clear(&mut self) {
        if self.drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
