//! Waiting for an absolute deadline in the dispatcher's event loop, to the microsecond.
//!
//! `epoll_wait` takes its timeout in milliseconds (a wait ends up to about 1 ms late), too
//! coarse for a dispatch lateness p99 under 1 ms. On Linux the loop waits on a `timerfd`
//! registered with its own epoll, like any socket: it wakes when the timer fires, to the
//! microsecond and with no timer slack, and no thread spins. The timer is armed only when the
//! next wake-up changes, so a loop woken by answers between two deadlines pays nothing more.
//! Elsewhere, the poll timeout alone (rounded up to the millisecond: never early).

use mio::{Registry, Token};
use std::time::{Duration, Instant};

/// A one-shot precise timer for one event loop.
pub(crate) struct Precise {
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
    /// The wake-up the timer is armed for.
    armed: Option<Instant>,
}

impl Precise {
    /// Registers the timer with `registry` under `token`; falls back to poll timeouts if the
    /// system has no `timerfd`.
    pub fn new(registry: &Registry, token: Token) -> Precise {
        Precise {
            #[cfg(target_os = "linux")]
            fd: linux::create(registry, token),
            armed: None,
        }
    }

    /// Arms the timer for `wake` (after `now`) and returns the timeout to poll with: `None`
    /// (until an event: the timer's or a socket's) or how long to wait.
    pub fn arm(&mut self, wake: Instant, now: Instant) -> Option<Duration> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            if self.armed != Some(wake) && linux::set(fd, wake - now) {
                self.armed = Some(wake);
            }
            if self.armed == Some(wake) {
                return None;
            }
        }
        Some(wake - now)
    }

    /// The timer's event came: consume it.
    pub fn fired(&mut self) {
        self.armed = None;
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            let mut expirations = [0u8; 8];
            let _ = rustix::io::read(fd, &mut expirations);
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::Duration;

    pub(super) fn create(registry: &Registry, token: Token) -> Option<OwnedFd> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()?;
        registry
            .register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)
            .ok()?;
        Some(fd)
    }

    /// Arms the timer `after` from now (`CLOCK_MONOTONIC`, the clock of `Instant`).
    pub(super) fn set(fd: &OwnedFd, after: Duration) -> bool {
        let after = after.max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs() as _,
                tv_nsec: after.subsec_nanos() as _,
            },
        };
        timerfd_settime(fd, TimerfdTimerFlags::empty(), &spec).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};

    #[test]
    fn never_early_and_close_to_the_deadline() {
        let mut poll = Poll::new().unwrap();
        let mut events = Events::with_capacity(8);
        let mut t = Precise::new(poll.registry(), Token(1));
        let mut worst = Duration::ZERO;
        for i in 0..50u64 {
            let deadline = Instant::now() + Duration::from_micros(200 + 97 * i);
            loop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let timeout = t.arm(deadline, now);
                poll.poll(&mut events, timeout).unwrap();
                if events.iter().any(|e| e.token() == Token(1)) {
                    t.fired();
                }
            }
            worst = worst.max(Instant::now().saturating_duration_since(deadline));
        }
        // Generous: the machine may be busy; a millisecond poll timeout alone would be later.
        assert!(worst < Duration::from_millis(50), "{worst:?}");
    }
}
