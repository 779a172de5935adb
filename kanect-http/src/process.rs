//! Process metrics (CPU time, resident memory, open file descriptors and their limit), read
//! from `/proc/self` when the metrics page is scraped.
//!
//! Linux only: elsewhere `/proc/self` is absent and so are these series (the page says nothing
//! rather than zeros). The names are the Prometheus client libraries' own (`process_*`), so
//! dashboards made for other services read them. Reading is a few small files per scrape;
//! nothing runs between scrapes.

use metrics::gauge;
use std::fs;

/// Clock ticks per second of `/proc/self/stat`'s times (`USER_HZ`): 100 on every Linux
/// architecture Rust targets (the kernel's ABI; `sysconf(_SC_CLK_TCK)` would need libc).
const TICKS_PER_SECOND: f64 = 100.0;

/// Sets the process gauges from `/proc/self`, each one whose file reads.
pub(crate) fn record() {
    if let Some(seconds) = cpu_seconds() {
        gauge!("process_cpu_seconds_total").set(seconds);
    }
    if let Some(bytes) = resident_bytes() {
        gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
    if let Ok(fds) = fs::read_dir("/proc/self/fd") {
        gauge!("process_open_fds").set(fds.count() as f64);
    }
    if let Some(max) = max_fds() {
        gauge!("process_max_fds").set(max as f64);
    }
}

/// User and system CPU time, from fields 14 and 15 of `/proc/self/stat` (counted after the
/// command name, which is in parentheses and may hold spaces).
fn cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

/// Resident set size, from `VmRSS` in `/proc/self/status` (in kB).
fn resident_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_fds() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn proc_self_reads() {
        assert!(cpu_seconds().is_some_and(|seconds| seconds >= 0.0));
        assert!(resident_bytes().is_some_and(|bytes| bytes > 1024 * 1024), "a test process holds over 1 MiB");
        assert!(max_fds().is_some_and(|max| max >= 16));
    }
}
