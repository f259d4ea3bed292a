//! Giving memory back after a burst of requests. glibc's allocator keeps
//! freed memory in per-thread arenas (up to eight per core) for reuse; on a
//! small machine a server that served a burst of 64 connections an hour ago
//! should not still hold that memory. Elsewhere (musl, other systems) these
//! are no-ops.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
        fn malloc_trim(pad: usize) -> i32;
    }
    /// `M_ARENA_MAX` from glibc's malloc.h.
    const M_ARENA_MAX: i32 = -8;

    pub fn limit_arenas(arenas: usize) {
        let arenas = i32::try_from(arenas.max(1)).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets an allocator parameter; called before the
        // worker threads start.
        unsafe { mallopt(M_ARENA_MAX, arenas) };
    }

    pub fn release_free_memory() {
        // SAFETY: malloc_trim takes each arena's lock and only returns free
        // pages to the kernel; it is safe to call from any thread.
        unsafe { malloc_trim(0) };
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub fn limit_arenas(_arenas: usize) {}
    pub fn release_free_memory() {}
}

/// Caps the allocator's arenas (glibc's default is eight per core). Threads
/// then share arenas, so memory freed by one is reused by the others instead
/// of being kept apart. Call once, before starting threads.
pub fn limit_arenas(arenas: usize) {
    glibc::limit_arenas(arenas)
}

/// Returns the allocator's free pages to the kernel.
pub fn release_free_memory() {
    glibc::release_free_memory()
}
