//! Waiting for an absolute deadline inside the dispatcher's runtime, to the microsecond.
//!
//! tokio's timer wheel has a millisecond granularity (a sleep ends up to about 1 ms late), too
//! coarse for a dispatch lateness p99 under 1 ms. On Linux the last stretch before a deadline
//! is waited on a `timerfd`, registered with the runtime's own epoll like any socket: the
//! runtime wakes exactly when the timer fires, and no thread spins or hands work across
//! threads. Long waits (more than [`COARSE`]) go to tokio's timer first, which costs no system
//! call. Elsewhere, tokio's timer alone (about 1 ms of slack).
//!
//! The dispatcher dispatches everything already due before it waits, so at high rates, when
//! the runtime is busy with answers anyway, several requests go per wake-up (timer coalescing)
//! and most deadlines need no timer at all.

use std::time::{Duration, Instant};

/// Waits longer than this start on tokio's timer, woken this much before the deadline.
const COARSE: Duration = Duration::from_millis(2);

/// A precise one-shot timer for one thread's runtime.
pub(crate) struct Timer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Timer {
    /// Needs a runtime with I/O enabled; falls back to tokio's timer if no `timerfd`.
    pub fn new() -> Timer {
        Timer {
            #[cfg(target_os = "linux")]
            fd: linux::create(),
        }
    }

    /// Sleeps until `deadline` (never returns before it). `spin`: how long before the
    /// deadline to stop sleeping and yield in a loop instead (less lateness, more CPU).
    pub async fn sleep_until(&mut self, deadline: Instant, spin: Duration) {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            let left = deadline - now;
            if left <= spin {
                tokio::task::yield_now().await;
            } else if left > COARSE + spin {
                tokio::time::sleep_until((deadline - COARSE).into()).await;
            } else {
                self.precise(deadline - spin, now).await;
            }
        }
    }

    #[cfg(target_os = "linux")]
    async fn precise(&mut self, wake: Instant, now: Instant) {
        match &self.fd {
            Some(fd) => linux::wait(fd, wake.saturating_duration_since(now)).await,
            None => tokio::time::sleep_until(wake.into()).await,
        }
    }

    #[cfg(not(target_os = "linux"))]
    async fn precise(&mut self, wake: Instant, _now: Instant) {
        tokio::time::sleep_until(wake.into()).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use std::os::fd::OwnedFd;
    use std::time::Duration;
    use tokio::io::unix::AsyncFd;

    pub(super) fn create() -> Option<AsyncFd<OwnedFd>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()?;
        // `AsyncFd::new` is deprecated because a borrowed descriptor could be closed while
        // registered; this one is owned by the `AsyncFd`, so it lives exactly as long.
        #[allow(deprecated)]
        AsyncFd::new(fd).ok()
    }

    /// Arms the timer `after` from now (`CLOCK_MONOTONIC`, the clock of `Instant`) and waits
    /// for it to fire.
    pub(super) async fn wait(fd: &AsyncFd<OwnedFd>, after: Duration) {
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
        if timerfd_settime(fd, TimerfdTimerFlags::empty(), &spec).is_err() {
            tokio::time::sleep(after).await;
            return;
        }
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            let mut expirations = [0u8; 8];
            match rustix::io::read(fd.get_ref(), &mut expirations) {
                Ok(_) => {
                    // Consumed: the next expiry is a new edge, so the readiness can go now
                    // without a second read that would only say "would block".
                    guard.clear_ready();
                    return;
                }
                Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn never_early_and_close_to_the_deadline() {
        let mut t = Timer::new();
        let mut worst = Duration::ZERO;
        for i in 0..50u64 {
            let deadline = Instant::now() + Duration::from_micros(200 + 97 * i);
            t.sleep_until(deadline, Duration::ZERO).await;
            let late = Instant::now().saturating_duration_since(deadline);
            assert!(Instant::now() >= deadline);
            worst = worst.max(late);
        }
        // Generous: the machine may be busy; tokio's millisecond timer alone would be later.
        assert!(worst < Duration::from_millis(50), "{worst:?}");
    }
}
