//! Turns the `KANECT_TEST_PG` and `KANECT_TEST_NATS` environment variables into the
//! `kanect_test_pg` and `kanect_test_nats` cfgs, so that `tests/multinode.rs` (server processes
//! on PostgreSQL and NATS) runs when both services are named and is reported as ignored (never
//! passed vacuously) when they are not. The same pattern as kanect-store's and kanect-nats's.
//! `KANECT_TEST_SMTP` (a Python interpreter with aiosmtpd) turns on `kanect_test_smtp`, for the
//! mail tests (`tests/http_mail.rs`, `tests/mail_tls.rs`, part of `tests/server_mail.rs`) against
//! a real SMTP server. `systemd-analyze` on `PATH` turns on `kanect_systemd_analyze`, for the
//! checks of the systemd unit (`tests/systemd_unit.rs`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for (variable, cfg) in [
        ("KANECT_TEST_PG", "kanect_test_pg"),
        ("KANECT_TEST_NATS", "kanect_test_nats"),
        ("KANECT_TEST_SMTP", "kanect_test_smtp"),
    ] {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={variable}");
        if std::env::var_os(variable).is_some_and(|url| !url.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    println!("cargo:rustc-check-cfg=cfg(kanect_systemd_analyze)");
    println!("cargo:rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("systemd-analyze").is_file()) {
        println!("cargo:rustc-cfg=kanect_systemd_analyze");
    }
}
