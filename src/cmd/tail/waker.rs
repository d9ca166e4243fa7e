//! The waiting: a notify watcher on the directory (or a poll interval) and
//! the signal thread, all feeding one channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use anyhow::{Context as _, Result};
use journal::render::notice;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// Without a notification, look anyway this often (a lost event costs at
/// most this much latency; idle cost is one directory listing).
const SAFETY_RESCAN: Duration = Duration::from_secs(5);
/// Poll interval when the directory cannot be watched (watch limit).
const FALLBACK_POLL: Duration = Duration::from_millis(500);
/// How often to look for a missing directory under --retry.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

pub(super) fn spawn_signal_thread(stop: Arc<AtomicBool>, tx: Sender<()>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            stop.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        }
    });
    Ok(())
}

/// Ends the follow when stdout's reader goes away, even while nothing is
/// written: `journal tail -f | head -1` on an idle journal would otherwise
/// only notice at the next append. A pipe whose reader closed reports
/// POLLERR; a terminal that hung up, POLLHUP. Nothing else wakes this poll
/// (no events are asked for), so files and /dev/null leave it asleep.
pub(super) fn spawn_stdout_watch(stop: Arc<AtomicBool>, tx: Sender<()>) {
    use rustix::event::{PollFd, PollFlags, poll};
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        loop {
            let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
            match poll(&mut fds, None) {
                Ok(_) => {
                    let revents = fds[0].revents();
                    if revents.intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL) {
                        stop.store(true, Ordering::SeqCst);
                        let _ = tx.send(());
                        return;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    });
}

/// Sleeps until something may have changed: a notification, a signal, or a timeout.
pub(super) struct Waker {
    pub(super) rx: Receiver<()>,
    pub(super) tx: Sender<()>,
    pub(super) watcher: Option<RecommendedWatcher>,
    /// The directory (device, inode) the watcher is on.
    pub(super) watched: Option<(u64, u64)>,
    /// Poll at this interval (--poll, or after the watcher failed).
    pub(super) poll: Option<Duration>,
    pub(super) reported_missing: bool,
}

impl Waker {
    /// Watches `dir` unless it is already watched (a recreated directory is a
    /// new inode and needs a new watch) or polling was chosen.
    pub(super) fn arm(&mut self, dir: &Path, dir_id: Option<(u64, u64)>) {
        self.reported_missing = false;
        if self.poll.is_some() || (self.watcher.is_some() && self.watched == dir_id) {
            return;
        }
        self.watcher = None;
        let handler = wake_on_change(self.tx.clone());
        let watcher = notify::recommended_watcher(handler)
            .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w));
        match watcher {
            Ok(w) => {
                self.watcher = Some(w);
                self.watched = dir_id;
            }
            Err(e) => {
                notice::cannot_watch(dir, &e, FALLBACK_POLL);
                self.poll = Some(FALLBACK_POLL);
            }
        }
    }

    pub(super) fn dir_missing(&mut self, dir: &Path) {
        self.watcher = None;
        self.watched = None;
        if !self.reported_missing {
            self.reported_missing = true;
            notice::waiting_for_dir(dir);
        }
    }

    pub(super) fn wait(&self, dir_missing: bool) {
        let timeout = if dir_missing {
            RETRY_INTERVAL
        } else {
            self.poll.unwrap_or(SAFETY_RESCAN)
        };
        match self.rx.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
        // One rescan answers any number of notifications.
        while self.rx.try_recv().is_ok() {}
    }
}

/// The waiting of a follow over several journals: one watcher on every
/// journal's directory (for a path that does not exist yet, its nearest
/// existing ancestor, so its creation wakes us), set up again whenever that
/// set of directories changes (one removed and made again is a new inode);
/// polling at `--poll`, or when a watch cannot be set up.
pub(super) struct MultiWaker {
    rx: Receiver<()>,
    tx: Sender<()>,
    watcher: Option<RecommendedWatcher>,
    /// The directories watched, with their (device, inode).
    watched: Vec<(PathBuf, Option<(u64, u64)>)>,
    poll: Option<Duration>,
}

impl MultiWaker {
    pub(super) fn new(rx: Receiver<()>, tx: Sender<()>, poll: Option<Duration>) -> Self {
        MultiWaker {
            rx,
            tx,
            watcher: None,
            watched: Vec::new(),
            poll,
        }
    }

    /// Watches `dirs` (each a journal's directory, or an existing ancestor
    /// of one that is missing), then sleeps until a notification, a signal,
    /// an acknowledgement or the timeout: the poll interval, else a safety
    /// rescan (sooner while a journal is missing).
    pub(super) fn wait(&mut self, dirs: &[PathBuf], any_missing: bool) {
        self.arm(dirs);
        let timeout = match self.poll {
            Some(poll) => poll,
            None if any_missing => RETRY_INTERVAL,
            None => SAFETY_RESCAN,
        };
        match self.rx.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
        // One rescan answers any number of notifications.
        while self.rx.try_recv().is_ok() {}
    }

    fn arm(&mut self, dirs: &[PathBuf]) {
        if self.poll.is_some() {
            return;
        }
        let want: Vec<(PathBuf, Option<(u64, u64)>)> = dirs
            .iter()
            .map(|d| {
                use std::os::unix::fs::MetadataExt;
                let id = std::fs::metadata(d).ok().map(|m| (m.dev(), m.ino()));
                (d.clone(), id)
            })
            .collect();
        if self.watcher.is_some() && want == self.watched {
            return;
        }
        self.watcher = None;
        let handler = wake_on_change(self.tx.clone());
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                let first = dirs.first().map_or(Path::new("."), PathBuf::as_path);
                notice::cannot_watch(first, &e, FALLBACK_POLL);
                self.poll = Some(FALLBACK_POLL);
                return;
            }
        };
        for (dir, _) in &want {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                notice::cannot_watch(dir, &e, FALLBACK_POLL);
                self.poll = Some(FALLBACK_POLL);
                return;
            }
        }
        self.watcher = Some(watcher);
        self.watched = want;
    }
}

/// The directory to watch for `path`: itself when it exists, else its
/// nearest existing ancestor (its creation shows there).
pub(super) fn watch_point(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut at = absolute.as_path();
    loop {
        if at.exists() {
            return at.to_owned();
        }
        match at.parent() {
            Some(parent) => at = parent,
            None => return PathBuf::from("/"),
        }
    }
}

/// The watcher's handler: a wake-up for every change. Opening and reading
/// files (our own reads included) is no change: waking for it would be a
/// busy loop. Anything else, including an overflow (rescan flag) or an
/// error, wakes a full rescan.
fn wake_on_change(
    tx: std::sync::mpsc::Sender<()>,
) -> impl Fn(notify::Result<notify::Event>) + Send + 'static {
    move |res: notify::Result<notify::Event>| {
        if let Ok(event) = &res
            && matches!(event.kind, EventKind::Access(_))
            && !event.need_rescan()
        {
            return;
        }
        let _ = tx.send(());
    }
}
