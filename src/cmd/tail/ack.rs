//! `--ack-stdin`: the consumer acknowledges on our stdin, and the cursor only
//! moves over what it acknowledged (at-least-once across any crash).
//!
//! The protocol is rsyslog improg's: one line `ACK` per line written (a
//! record or a gap), in the order they were written; or, for a batch,
//! `ACK <id>` (an envelope `id`, or a bare position) acknowledging every line
//! written up to that one. A record filtered out needs no acknowledgement:
//! the cursor passes it once every record written before it is
//! acknowledged.
//!
//! One state serves every tail: the lines written are queued with their
//! source (its index among the journals followed) and cursor stream, so the
//! cursor of each stream stops before its oldest unacknowledged line, whatever
//! order a merge wrote the streams in.

use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use journal::source::family::Positions;

/// A line written and not acknowledged yet.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// The journal's index among those followed (0 for one journal).
    pub(super) source: usize,
    /// The cursor stream (`""` for the engine's segments).
    pub(super) stream: String,
    /// The position's number in its stream; a gap `A..=B` is queued as `A`,
    /// acknowledged like a record, so a consumer that ACKs every line it
    /// reads never acknowledges a record early.
    pub(super) number: u64,
    /// The envelope's `id` (`<source id>:<position>`).
    pub(super) id: String,
}

impl Pending {
    /// The position part of the id (after the source id's `:`).
    fn bare(&self) -> &str {
        self.id.split_once(':').map_or(&self.id, |(_, p)| p)
    }
}

/// What the consumer has acknowledged, shared with the stdin thread.
#[derive(Debug, Default)]
pub(super) struct AckState {
    /// Lines written to stdout and not acknowledged yet, oldest first.
    pub(super) outstanding: VecDeque<Pending>,
    /// Stdin reached its end: the consumer is gone.
    pub(super) closed: bool,
    /// A line that is not an acknowledgement, or one for nothing written.
    pub(super) error: Option<String>,
}

pub(super) type Acks = Arc<Mutex<AckState>>;

impl AckState {
    pub(super) fn push(&mut self, source: usize, stream: &str, number: u64, id: String) {
        self.outstanding.push_back(Pending {
            source,
            stream: stream.to_owned(),
            number,
            id,
        });
    }

    /// The positions of `source` that are safe to store, given those
    /// processed (written or filtered out): a stream holding an
    /// unacknowledged line goes back to just before the oldest such line
    /// (removed when that is its first position, so it is read from its
    /// start).
    pub(super) fn hold_back(&self, source: usize, processed: &Positions) -> Positions {
        let mut lowest: BTreeMap<&str, u64> = BTreeMap::new();
        for p in self.outstanding.iter().filter(|p| p.source == source) {
            let e = lowest.entry(p.stream.as_str()).or_insert(p.number);
            *e = (*e).min(p.number);
        }
        let mut safe = processed.clone();
        for (stream, n) in lowest {
            match n.checked_sub(1) {
                Some(before) => {
                    safe.insert(stream.to_owned(), before);
                }
                None => {
                    safe.remove(stream);
                }
            }
        }
        safe
    }

    /// [`AckState::hold_back`] for one journal of one stream (the engine's
    /// segments): the seq that is safe to store.
    pub(super) fn safe(&self, processed: Option<u64>) -> Option<u64> {
        let processed: Positions = processed.map(|p| (String::new(), p)).into_iter().collect();
        self.hold_back(0, &processed).get("").copied()
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
                None => {
                    Err("ACK on stdin, but every line written was already acknowledged".to_owned())
                }
            };
        }
        // An envelope id, or the position alone (a seq, `gap-A-B`, ...)
        // when that names one line only.
        let upto = match self.outstanding.iter().rposition(|p| p.id == rest) {
            Some(i) => i,
            None => {
                let bare: Vec<usize> = (0..self.outstanding.len())
                    .filter(|&i| self.outstanding[i].bare() == rest)
                    .collect();
                match bare[..] {
                    [i] => i,
                    [] => {
                        return Err(format!(
                            "ACK {rest:?}: no line with that id is waiting for an acknowledgement"
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "ACK {rest:?}: several journals have a line at that position; \
                             acknowledge by the envelope id"
                        ));
                    }
                }
            }
        };
        self.outstanding.drain(..=upto);
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

    fn seg(s: &mut AckState, seq: u64) {
        s.push(0, "", seq, format!("src:{seq}"));
    }

    #[test]
    fn acks_move_the_safe_cursor_over_what_was_acknowledged() {
        let mut s = AckState::default();
        assert_eq!(s.safe(Some(4)), Some(4));
        for seq in [5, 7, 9] {
            seg(&mut s, seq);
        }
        // 6 and 8 were filtered out; 10 too.
        assert_eq!(s.safe(Some(10)), Some(4));
        s.take("ACK\n").unwrap();
        assert_eq!(s.safe(Some(10)), Some(6));
        s.take("ACK src:9").unwrap();
        assert_eq!(s.safe(Some(10)), Some(10));
        assert!(s.take("ACK").is_err());
        seg(&mut s, 11);
        assert!(s.take("ACK 12").is_err());
        assert!(s.take("OK").is_err());
        s.take("ACK 11").unwrap();
        assert!(s.outstanding.is_empty());
        // A gap 12..=20 then 21: the gap's id acknowledges the gap only.
        s.push(0, "", 12, "src:gap-12-20".to_owned());
        seg(&mut s, 21);
        s.take("ACK src:gap-12-20").unwrap();
        assert_eq!(s.safe(Some(21)), Some(20));
    }

    #[test]
    fn each_stream_of_each_source_stops_before_its_oldest_unacknowledged_line() {
        let mut s = AckState::default();
        // A merge wrote: a/s1 3, b/"" 7, a/s2 1, a/s1 4.
        s.push(0, "s1", 3, "A:x/s1/3".to_owned());
        s.push(1, "", 7, "B:7".to_owned());
        s.push(0, "s2", 1, "A:x/s2/1".to_owned());
        s.push(0, "s1", 4, "A:x/s1/4".to_owned());
        let a: Positions = [
            ("s1".to_owned(), 4),
            ("s2".to_owned(), 1),
            ("s0".to_owned(), 9),
        ]
        .into_iter()
        .collect();
        let b: Positions = [(String::new(), 7)].into_iter().collect();
        let held = s.hold_back(0, &a);
        assert_eq!(held.get("s1"), Some(&2));
        assert_eq!(held.get("s2"), Some(&0), "read from its start again");
        assert_eq!(held.get("s0"), Some(&9), "nothing outstanding there");
        assert_eq!(s.hold_back(1, &b).get(""), Some(&6));
        // ACK <id> of the third line acknowledges the first three.
        s.take("ACK A:x/s2/1").unwrap();
        assert_eq!(s.hold_back(0, &a).get("s1"), Some(&3));
        assert_eq!(s.hold_back(0, &a).get("s2"), Some(&1));
        assert_eq!(s.hold_back(1, &b).get(""), Some(&7));
        // A bare position that two journals share is refused.
        s.push(1, "", 8, "B:8".to_owned());
        s.push(2, "", 8, "C:8".to_owned());
        assert!(s.take("ACK 8").unwrap_err().contains("several journals"));
        s.take("ACK C:8").unwrap();
        assert!(s.outstanding.is_empty());
    }
}
