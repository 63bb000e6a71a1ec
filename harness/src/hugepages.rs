//! Transparent huge pages for the heap, shared by the `fleetsim` binary and the benchmarks so
//! both measure the same process.

/// Transparent huge pages for the heap. At a million devices every event touches a dozen
/// per-device arrays spread over gigabytes; with 4 KiB pages each touch is a TLB miss as well
/// as a cache miss, and 2 MiB pages make a run about a third faster. glibc (2.35 and later)
/// asks the kernel for them when the `glibc.malloc.hugetlb=1` tunable is set, which it reads
/// only at start-up, so the process re-executes itself once with it set. Nothing simulated
/// depends on it; `FLEETSIM_HUGEPAGES=0` turns it off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn reexec() {
    use std::os::unix::process::CommandExt;
    const TUNABLES: &str = "GLIBC_TUNABLES";
    const HUGETLB: &str = "glibc.malloc.hugetlb";
    if std::env::var_os("FLEETSIM_HUGEPAGES").is_some_and(|v| v == "0") {
        return;
    }
    let current = std::env::var(TUNABLES).unwrap_or_default();
    if current.contains(HUGETLB) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let value = if current.is_empty() {
        format!("{HUGETLB}=1")
    } else {
        format!("{current}:{HUGETLB}=1")
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    // `exec` returns only if it failed; the run then goes on with ordinary pages.
    let _ = cmd.args(args).env(TUNABLES, value).exec();
}

/// Elsewhere the allocator's defaults stand.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn reexec() {}
