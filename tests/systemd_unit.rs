//! What an operator installs to run the server under systemd: the unit
//! (`deploy/systemd/kanect.service`) and the sample configuration (`deploy/kanect.toml`).
//!
//! - `systemd-analyze verify` takes the unit without a warning, and `systemd-analyze security`
//!   rates its exposure 2.0 ("OK") or lower. Both run on a copy whose `ExecStart` is the binary
//!   cargo built (verify wants the program to exist). Ignored where `systemd-analyze` is not on
//!   `PATH` (see `build.rs`).
//! - The two files agree: the unit runs the binary with the sample's path, its state directory
//!   is the sample's `data-dir`, and its file limit is above the sample's `max-connections`.
//! - `kanect check-config` accepts the sample as shipped, with every value set coming from the
//!   file, and with every commented example turned on too (the TLS paths pointed at files the
//!   test makes), so the examples cannot rot. Shipped as it is, with the TLS lines on but their
//!   files absent, it is refused, naming the flag.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::binary::server_binary;
use support::certs::{CertFiles, TestCertificates};

/// Where the unit runs the binary from, and where it reads the configuration.
const INSTALLED_BINARY: &str = "/usr/local/bin/kanect";
const INSTALLED_CONFIG: &str = "/etc/kanect/kanect.toml";

/// The most exposure `systemd-analyze security` may rate the unit: the top of its "OK" band.
const MAX_EXPOSURE: f64 = 2.0;

fn repository_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn unit() -> String {
    std::fs::read_to_string(repository_file("deploy/systemd/kanect.service")).expect("the unit")
}

fn sample() -> String {
    std::fs::read_to_string(repository_file("deploy/kanect.toml")).expect("the sample configuration")
}

/// The values of `key=` in the unit, in order.
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines().filter_map(|line| line.strip_prefix(key)?.strip_prefix('=')).collect()
}

/// The keys and values the sample sets (not the commented ones), as written.
fn set_keys(config: &str) -> Vec<(String, String)> {
    config
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// A copy of the unit that runs the binary cargo built, in a directory of its own.
fn unit_for_built_binary() -> (tempfile::TempDir, PathBuf) {
    let binary = server_binary();
    let unit = unit();
    assert!(unit.contains(INSTALLED_BINARY), "the unit runs {INSTALLED_BINARY}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kanect.service");
    std::fs::write(&path, unit.replace(INSTALLED_BINARY, binary.to_str().expect("a UTF-8 path"))).expect("the copy");
    (dir, path)
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    Command::new("systemd-analyze").args(args).arg(unit).output().expect("run systemd-analyze")
}

/// `kanect check-config --config FILE`, with no `KANECT_` variable of the test's environment in
/// the way: its exit code, standard output and standard error.
fn check_config(config: &Path) -> (Option<i32>, String, String) {
    let mut command = Command::new(server_binary());
    command.arg("check-config").arg("--config").arg(config);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KANECT_") {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("run kanect check-config");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// The line of `key` in check-config's output, split into the setting and its source.
fn effective<'a>(output: &'a str, key: &str) -> (&'a str, &'a str) {
    let line = output
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no `{key}` in\n{output}"));
    let (setting, source) = line.rsplit_once(" # ").expect("a source");
    (setting.trim_end(), source)
}

#[test]
#[cfg_attr(not(kanect_systemd_analyze), ignore = "systemd-analyze is not on PATH")]
fn systemd_analyze_verifies_the_unit_without_a_warning() {
    let (_dir, unit) = unit_for_built_binary();
    let output = systemd_analyze(&["verify"], &unit);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Warnings about the unit name its file; other units of the machine are not ours to judge.
    let ours: Vec<&str> = stderr.lines().filter(|line| line.contains("kanect")).collect();
    assert!(output.status.success() && ours.is_empty(), "systemd-analyze verify: {:?}\n{stderr}", output.status);
}

#[test]
#[cfg_attr(not(kanect_systemd_analyze), ignore = "systemd-analyze is not on PATH")]
fn the_units_exposure_is_rated_ok() {
    let (_dir, unit) = unit_for_built_binary();
    let output = systemd_analyze(&["security", "--offline=yes"], &unit);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "systemd-analyze security: {:?}\n{stdout}", output.status);
    let exposure: f64 = stdout
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for kanect.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in\n{stdout}"));
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure} > {MAX_EXPOSURE}:\n{stdout}");
}

/// The unit and the sample are installed together: what one names, the other must match.
#[test]
fn the_unit_runs_the_sample_configuration_with_its_data_dir_and_enough_file_descriptors() {
    let (unit, sample) = (unit(), sample());
    let exec = unit_values(&unit, "ExecStart");
    assert_eq!(exec, [format!("{INSTALLED_BINARY} --config {INSTALLED_CONFIG} serve")]);
    let settings = set_keys(&sample);
    let setting = |key: &str| {
        let value = settings.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str());
        value.unwrap_or_else(|| panic!("the sample sets no `{key}`"))
    };

    assert_eq!(unit_values(&unit, "StateDirectory"), ["kanect"]);
    assert_eq!(setting("data-dir"), "\"/var/lib/kanect\"", "the data directory is the unit's StateDirectory");
    let max_connections: u64 = setting("max-connections").parse().expect("a number");
    let files: u64 = unit_values(&unit, "LimitNOFILE").first().expect("LimitNOFILE").parse().expect("a number");
    assert!(files > max_connections, "LimitNOFILE={files} leaves no room above max-connections={max_connections}");

    assert_eq!(unit_values(&unit, "KillSignal"), ["SIGTERM"], "the server stops cleanly on SIGTERM");
    assert_eq!(unit_values(&unit, "ExecReload"), ["/bin/kill -HUP $MAINPID"], "SIGHUP reloads the certificate");
    assert_eq!(unit_values(&unit, "CapabilityBoundingSet"), [""], "no capabilities");
}

#[test]
fn check_config_accepts_the_sample_with_every_value_from_the_file() {
    let (code, stdout, stderr) = check_config(&repository_file("deploy/kanect.toml"));
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    let settings = set_keys(&sample());
    assert!(settings.len() >= 6, "{settings:?}");
    for (key, value) in &settings {
        assert_eq!(effective(&stdout, key), (format!("{key} = {value}").as_str(), "file"), "{stdout}");
    }
}

#[test]
fn check_config_accepts_every_example_of_the_sample_turned_on() {
    let certificates = CertFiles::new(&TestCertificates::new());
    let sample = sample();
    let mut keys = Vec::new();
    let mut all_on = String::new();
    for line in sample.lines() {
        // An example is `# key = value`; prose has no ` = ` after one word.
        let example =
            line.strip_prefix("# ").filter(|rest| rest.split_once(" = ").is_some_and(|(key, _)| !key.contains(' ')));
        let line = example.unwrap_or(line);
        keys.extend(line.split_once(" = ").filter(|_| !line.starts_with('#')).map(|(key, _)| key.to_owned()));
        all_on.push_str(line);
        all_on.push('\n');
    }
    let all_on = all_on
        .replace("/etc/kanect/tls/fullchain.pem", certificates.cert().to_str().expect("UTF-8"))
        .replace("/etc/kanect/tls/privkey.pem", certificates.key().to_str().expect("UTF-8"));
    for key in ["tls-cert", "tls-key", "trusted-proxy", "smtp-url", "store", "bus"] {
        assert!(keys.iter().any(|k| k == key), "the sample shows `{key}`: {keys:?}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kanect.toml");
    std::fs::write(&config, all_on).expect("the config");

    let (code, stdout, stderr) = check_config(&config);
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    for key in &keys {
        assert_eq!(effective(&stdout, key).1, "file", "{key}: {stdout}");
    }
}

/// check-config reads the files the settings name: the TLS lines turned on as shipped, with no
/// certificate there, are refused with the flag named.
#[test]
fn check_config_refuses_the_sample_with_tls_files_that_are_not_there() {
    let with_tls = sample().replace("# tls-cert = ", "tls-cert = ").replace("# tls-key = ", "tls-key = ");
    assert!(with_tls.contains("\ntls-cert = \"/etc/kanect/tls/"), "the sample shows tls-cert");
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("tls");
    let config = dir.path().join("kanect.toml");
    std::fs::write(&config, with_tls.replace("/etc/kanect/tls", missing.to_str().expect("UTF-8"))).expect("config");
    let (code, stdout, stderr) = check_config(&config);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stderr.contains("--tls-cert") && stderr.contains("fullchain.pem"), "{stderr}");
}
