//! Turns the `KANECT_TEST_NATS` environment variable into the `kanect_test_nats` cfg, so that
//! the tests needing a NATS server run when it names one and are reported as ignored (never
//! passed vacuously) when it does not.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(kanect_test_nats)");
    println!("cargo:rerun-if-env-changed=KANECT_TEST_NATS");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("KANECT_TEST_NATS").is_some_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=kanect_test_nats");
    }
}
