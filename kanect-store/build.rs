//! Turns the `KANECT_TEST_PG` environment variable into the `kanect_test_pg` cfg, so that the
//! PostgreSQL tests run when it names a database and are reported as ignored (never passed
//! vacuously) when it does not.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(kanect_test_pg)");
    println!("cargo:rerun-if-env-changed=KANECT_TEST_PG");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("KANECT_TEST_PG").is_some_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=kanect_test_pg");
    }
}
