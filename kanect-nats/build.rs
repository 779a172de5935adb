//! Turns the `KANECT_TEST_NATS` (and, for the test on PostgreSQL, `KANECT_TEST_PG`)
//! environment variables into the `kanect_test_nats` (`kanect_test_pg`) cfgs, so that the
//! tests needing those services run when they are named and are reported as ignored (never
//! passed vacuously) when they are not.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for (variable, cfg) in [("KANECT_TEST_NATS", "kanect_test_nats"), ("KANECT_TEST_PG", "kanect_test_pg")] {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={variable}");
        if std::env::var_os(variable).is_some_and(|url| !url.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}
