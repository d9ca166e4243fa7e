//! `--ack-stdin`: the consumer acknowledges on our stdin, and the cursor only
//! moves over what it acknowledged (at-least-once across any crash).
//!
//! The protocol is rsyslog improg's: one line `ACK` per record, in the order
//! they were written; or, for a batch, `ACK <id>` (an envelope `id`, or a
//! bare position) acknowledging every record written up to that one. A
//! record filtered out needs no acknowledgement: the cursor passes it once
//! every record written before it is acknowledged.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

/// What the consumer has acknowledged, shared with the stdin thread.
#[derive(Debug, Default)]
pub(super) struct AckState {
    /// Seqs written to stdout and not acknowledged yet, oldest first (a gap
    /// `A..=B` is queued as `A`: acknowledged like a record, so a consumer
    /// that ACKs every line it reads never acknowledges a record early).
    pub(super) outstanding: VecDeque<u64>,
    /// Stdin reached its end: the consumer is gone.
    pub(super) closed: bool,
    /// A line that is not an acknowledgement, or one for nothing written.
    pub(super) error: Option<String>,
}

pub(super) type Acks = Arc<Mutex<AckState>>;

impl AckState {
    /// The cursor that is safe to store, given the last seq processed
    /// (written or filtered out): everything before the oldest
    /// unacknowledged record.
    pub(super) fn safe(&self, processed: Option<u64>) -> Option<u64> {
        match self.outstanding.front() {
            None => processed,
            Some(&0) => None,
            Some(&first) => Some(first - 1),
        }
    }

    fn take(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(rest) = line.strip_prefix("ACK") else {
            return Err(format!("expected ACK or ACK <id> on stdin, got {line:?}"));
        };
        let rest = rest.trim();
        if rest.is_empty() {
            return match self.outstanding.pop_front() {
                Some(_) => Ok(()),
                None => Err(
                    "ACK on stdin, but every record written was already acknowledged".to_owned(),
                ),
            };
        }
        // `<source id>:<position>` or a bare position; a gap's id
        // (`<source id>:gap-A-B`) stands for its first seq, as queued.
        let position = rest.rsplit_once(':').map_or(rest, |(_, p)| p);
        let position = position
            .strip_prefix("gap-")
            .and_then(|g| g.split('-').next())
            .unwrap_or(position);
        let Ok(upto) = position.parse::<u64>() else {
            return Err(format!("ACK {rest:?}: not an envelope id or a seq"));
        };
        if !self.outstanding.iter().any(|&s| s == upto) {
            return Err(format!(
                "ACK {rest:?}: no record with that position is waiting for an acknowledgement"
            ));
        }
        while self.outstanding.front().is_some_and(|&s| s <= upto) {
            self.outstanding.pop_front();
        }
        Ok(())
    }
}

/// Reads acknowledgements from stdin until its end, waking the main loop
/// after each line so the cursor is saved.
pub(super) fn spawn_ack_reader(acks: Acks, wake: Sender<()>) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock();
        let mut line = String::new();
        loop {
            line.clear();
            let end = match lines.read_line(&mut line) {
                Ok(0) | Err(_) => true,
                Ok(_) => false,
            };
            {
                let mut state = acks.lock().expect("ack state");
                if end {
                    state.closed = true;
                } else if line.trim().is_empty() {
                    continue;
                } else if let Err(e) = state.take(&line) {
                    state.error = Some(e);
                }
            }
            let _ = wake.send(());
            if end {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_move_the_safe_cursor_over_what_was_acknowledged() {
        let mut s = AckState::default();
        assert_eq!(s.safe(Some(4)), Some(4));
        s.outstanding.extend([5, 7, 9]);
        // 6 and 8 were filtered out; 10 too.
        assert_eq!(s.safe(Some(10)), Some(4));
        s.take("ACK\n").unwrap();
        assert_eq!(s.safe(Some(10)), Some(6));
        s.take("ACK src:9").unwrap();
        assert_eq!(s.safe(Some(10)), Some(10));
        assert!(s.take("ACK").is_err());
        s.outstanding.push_back(11);
        assert!(s.take("ACK 12").is_err());
        assert!(s.take("OK").is_err());
        s.take("ACK 11").unwrap();
        assert!(s.outstanding.is_empty());
        // A gap 12..=20 then 21: the gap's id acknowledges the gap only.
        s.outstanding.extend([12, 21]);
        s.take("ACK src:gap-12-20").unwrap();
        assert_eq!(s.safe(Some(21)), Some(20));
    }
}
