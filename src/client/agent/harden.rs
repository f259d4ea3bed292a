//! Keeping the agent's memory to itself: no core dumps, no ptrace or
//! /proc/PID/mem by other processes of the user (`PR_SET_DUMPABLE 0`), and
//! the pages holding the vault key and the token locked in RAM (never
//! written to swap), unlocked only after they were wiped.

use rustix::process::{DumpableBehavior, Resource, Rlimit};

/// Makes this process undumpable and its core size 0. Errors are returned:
/// an agent that cannot protect itself does not start.
pub fn no_dumps() -> Result<(), String> {
    rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable)
        .map_err(|e| format!("cannot make the agent undumpable: {e}"))?;
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .map_err(|e| format!("cannot turn core dumps off: {e}"))
}

/// Pages locked in RAM with `mlock`, unlocked by [`Locked::release`] (after
/// the caller wiped them). Kept as addresses, not guards, so that the state
/// holding them can move between threads.
#[derive(Default)]
pub struct Locked {
    ranges: Vec<(usize, usize)>,
}

impl Locked {
    /// Locks the pages of `len` bytes at `ptr`. A failure (a low
    /// RLIMIT_MEMLOCK) is returned so the caller can refuse to go on.
    pub fn lock<T>(&mut self, ptr: *const T, len: usize) -> Result<(), String> {
        if len == 0 {
            return Ok(());
        }
        let guard =
            region::lock(ptr, len).map_err(|e| format!("cannot lock the key in memory: {e}"))?;
        // Unlocked by `release`, by address (the guard is not Send).
        std::mem::forget(guard);
        self.ranges.push((ptr as usize, len));
        Ok(())
    }

    /// Unlocks every range; call after the memory was wiped.
    pub fn release(&mut self) {
        for (addr, len) in self.ranges.drain(..) {
            let _ = region::unlock(addr as *const u8, len);
        }
    }
}

/// Whether this process is undumpable (for its self-check and the tests).
pub fn is_undumpable() -> bool {
    matches!(
        rustix::process::dumpable_behavior(),
        Ok(DumpableBehavior::NotDumpable)
    )
}
