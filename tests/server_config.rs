//! The `kanect` binary's settings: a TOML config file (`--config`) beneath the environment and
//! the flags, unknown keys and bad values refused naming the file and the key, `check-config`
//! printing the effective settings with their sources and secrets masked, and a server that
//! runs from a file alone (and from `serve` with its flags after the subcommand).

mod support;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::binary::{server_binary, start_process};
use support::certs::{CertFiles, TestCertificates};
use support::{request, signup};

/// What a finished run of the binary said.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `kanect ARGS` with only `env` in its environment (none of the test process's
/// `KANECT_...` variables), in `dir`; it must exit by itself within 20 s.
fn run(binary: &Path, dir: &Path, args: &[&OsStr], env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(binary)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kanect");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?}: kanect did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().expect("stdout").read_to_string(&mut stdout).expect("stdout");
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    Run { code: child.wait().expect("status").code(), stdout, stderr }
}

/// A config file holding `text`, in a new temporary directory (kept as long as the result).
fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kanect.toml");
    std::fs::write(&path, text).expect("write the config file");
    (dir, path)
}

/// `check-config --config FILE EXTRA...` with `env`.
fn check_config(binary: &Path, file: &Path, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = file.parent().expect("the file's directory");
    let mut args = vec![OsStr::new("check-config"), OsStr::new("--config"), file.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    run(binary, dir, &args, env)
}

/// The line `check-config` printed for `key` (`key = value  # source`, or `# key = (not set)`).
fn line_of<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|line| line.starts_with(&format!("{key} = ")) || line.starts_with(&format!("# {key} = ")))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{out}"))
}

/// `value` and `source` of `key`'s line.
fn setting<'a>(out: &'a str, key: &str) -> (&'a str, &'a str) {
    let line = line_of(out, key);
    let (assignment, source) = line.rsplit_once(" # ").unwrap_or_else(|| panic!("no source in {line:?}"));
    let value = assignment.split_once(" = ").map(|(_, value)| value.trim()).unwrap_or_default();
    (value, source.trim())
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let binary = server_binary();
    let (_dir, file) = config_file(
        "listen = \"127.0.0.1:9001\"\n\
         data-dir = \"/srv/kanect\"\n\
         log = \"warn\"\n\
         max-connections = 300\n\
         no-search = true\n\
         allowed-origin = [\"https://a.example\", \"https://b.example\"]\n",
    );
    let env = [("KANECT_LOG", "debug"), ("KANECT_MAX_CONNECTIONS", "200")];
    let out = check_config(&binary, &file, &["--max-connections", "100"], &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = out.stdout;
    assert_eq!(setting(&out, "listen"), ("\"127.0.0.1:9001\"", "file"));
    assert_eq!(setting(&out, "data-dir"), ("\"/srv/kanect\"", "file"));
    assert_eq!(setting(&out, "log"), ("\"debug\"", "env KANECT_LOG"));
    assert_eq!(setting(&out, "max-connections"), ("100", "flag"));
    assert_eq!(setting(&out, "no-search"), ("true", "file"));
    assert_eq!(setting(&out, "allowed-origin"), ("[\"https://a.example\", \"https://b.example\"]", "file"));
    assert_eq!(setting(&out, "heartbeat-ms"), ("5000", "default"));
    assert_eq!(setting(&out, "tls-cert").1, "not set");
    assert!(out.starts_with("# kanect's settings: flags, then the environment, then "), "{out}");
}

#[test]
fn what_check_config_prints_is_a_config_file_that_gives_the_same_settings() {
    let binary = server_binary();
    let (dir, file) = config_file("listen = \"127.0.0.1:9002\"\nmessage-retention = 30\nmemory = true\n");
    let first = check_config(&binary, &file, &["--limit-sends", "5/10s"], &[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &first.stdout).expect("write");
    let second = check_config(&binary, &printed, &[], &[]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let values = |out: &str| -> Vec<String> {
        out.lines()
            .skip(1)
            .map(|line| line.rsplit_once(" # ").map_or(line, |(value, _)| value).trim().to_string())
            .collect()
    };
    assert_eq!(values(&first.stdout), values(&second.stdout));
    assert_eq!(setting(&second.stdout, "limit-sends"), ("\"5/10s\"", "file"));
    assert_eq!(setting(&second.stdout, "message-retention"), ("30", "file"));
}

#[test]
fn an_unknown_key_is_refused_by_name_with_the_nearest_known_one() {
    let binary = server_binary();
    let (_dir, file) = config_file("listen = \"127.0.0.1:0\"\nlistn = \"127.0.0.1:0\"\n");
    let out = check_config(&binary, &file, &[], &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("unknown key `listn` (did you mean `listen`?)"), "{}", out.stderr);
    assert!(out.stderr.contains("kanect.toml"), "{}", out.stderr);

    // Not settings: the file cannot name itself, nor a subcommand's own arguments.
    for key in ["config = \"other.toml\"", "help = true", "from = \"http://x\"", "[mail]\nsmtp-url = \"x\""] {
        let (_dir, file) = config_file(key);
        let out = check_config(&binary, &file, &[], &[]);
        assert_eq!(out.code, Some(2), "{key}: {}", out.stdout);
        assert!(out.stderr.contains("unknown key"), "{key}: {}", out.stderr);
    }
    // The server itself refuses to start on it, before it opens anything.
    let (dir, file) = config_file("data-dir = \"data\"\nlistn = \"x\"\n");
    let out = run(&binary, dir.path(), &[OsStr::new("--config"), file.as_os_str()], &[]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!dir.path().join("data").exists(), "the store was opened");
}

#[test]
fn a_bad_value_is_refused_naming_the_file_and_the_key() {
    let binary = server_binary();
    let cases = [
        ("listen = \"nope\"", "key `listen`: invalid value \"nope\""),
        ("engine = \"rocksdb\"", "key `engine`: invalid value \"rocksdb\""),
        ("limit-sends = \"lots\"", "key `limit-sends`: invalid value \"lots\""),
        ("no-search = \"yes\"", "`no-search` is a switch: true or false"),
        ("listen = [\"127.0.0.1:1\"]", "`listen` takes one value, not a list"),
        ("listen = { host = \"x\" }", "`listen` takes a string or a number, not table"),
        ("max-connections = 0", "key `max-connections`: invalid value \"0\""),
        ("listen = \"127.0.0.1:0", "kanect.toml: TOML parse error"),
    ];
    for (text, expected) in cases {
        let (_dir, file) = config_file(text);
        let out = check_config(&binary, &file, &[], &[]);
        assert_eq!(out.code, Some(2), "{text}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{text}: expected {expected:?} in {}", out.stderr);
    }
    // The limit itself is taken.
    let (_dir, file) = config_file("max-connections = 1");
    let out = check_config(&binary, &file, &[], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(setting(&out.stdout, "max-connections"), ("1", "file"));

    let missing = std::env::temp_dir().join("kanect-no-such-config.toml");
    let out = check_config(&binary, &missing, &[], &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("kanect-no-such-config.toml"), "{}", out.stderr);
}

#[test]
fn check_config_masks_secrets_wherever_they_come_from() {
    let binary = server_binary();
    let (_dir, file) = config_file(
        "store = \"postgres://kanect:hunter2-store@db.internal:5432/kanect\"\n\
         smtp-url = \"smtp://mailer:hunter2-mail@mail.example.com:587?tls=starttls\"\n",
    );
    let env = [
        ("KANECT_BUS", "nats://node:hunter2-bus@nats.internal:4222"),
        ("KANECT_ADMIN_USERNAME", "alice"),
        ("KANECT_ADMIN_PASSWORD", "hunter2-admin"),
    ];
    let out = check_config(&binary, &file, &[], &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"), "{}", out.stdout);
    assert_eq!(setting(&out.stdout, "store"), ("\"postgres://kanect:********@db.internal:5432/kanect\"", "file"));
    assert_eq!(setting(&out.stdout, "bus"), ("\"nats://node:********@nats.internal:4222\"", "env KANECT_BUS"));
    assert_eq!(setting(&out.stdout, "smtp-url"), ("\"smtp://mailer:********@mail.example.com:587?********\"", "file"));
    assert_eq!(setting(&out.stdout, "admin-password"), ("\"********\"", "env KANECT_ADMIN_PASSWORD"));
    assert_eq!(setting(&out.stdout, "admin-username"), ("\"alice\"", "env KANECT_ADMIN_USERNAME"));
}

#[test]
fn rules_between_settings_hold_across_sources_and_check_config_reads_the_certificates() {
    let binary = server_binary();
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let (_dir, file) = config_file(&format!("tls-cert = {:?}\n", files.cert().display().to_string()));
    // The certificate from the file, its key from a flag: together they do.
    let key = files.key().display().to_string();
    let out = check_config(&binary, &file, &["--tls-key", &key], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(setting(&out.stdout, "tls-cert").1, "file");
    assert_eq!(setting(&out.stdout, "tls-key").1, "flag");
    // Without the key, the rule that needs both says so.
    let out = check_config(&binary, &file, &[], &[]);
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    assert!(out.stderr.contains("--tls-key"), "{}", out.stderr);
    // From the environment for the top level, a flag after the subcommand: still a pair (clap's
    // own rules would see the two at different levels of the command line, and refuse).
    let (cert, dir) = (files.cert().display().to_string(), file.parent().expect("dir"));
    let args = [OsStr::new("check-config"), OsStr::new("--tls-key"), OsStr::new(&key)];
    let out = run(&binary, dir, &args, &[("KANECT_TLS_CERT", &cert)]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(setting(&out.stdout, "tls-cert"), (format!("{cert:?}").as_str(), "env KANECT_TLS_CERT"));
    let out = run(&binary, dir, &[OsStr::new("--tls-key"), OsStr::new(&key), OsStr::new("check-config")], &[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("--tls-key (KANECT_TLS_KEY, or `tls-key` in a config file) needs --tls-cert"),
        "{}",
        out.stderr
    );
    // Two settings that exclude each other, one from the file, one from the environment; a
    // switch the environment turns off is not given.
    let (_dir, memory) = config_file("memory = true\n");
    let out = check_config(&binary, &memory, &[], &[("KANECT_STORE", "postgres://db/kanect")]);
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    assert!(
        out.stderr.contains("--memory (KANECT_MEMORY, or `memory` in a config file) and --store"),
        "{}",
        out.stderr
    );
    let out = check_config(
        &binary,
        &file,
        &["--tls-key", &key],
        &[("KANECT_MEMORY", "false"), ("KANECT_STORE", "postgres://db/k")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Every other file a setting names must at least be there.
    let out = check_config(
        &binary,
        &file,
        &["--tls-key", &key, "--bus", "nats://127.0.0.1:1", "--bus-ca-file", "/nonexistent/ca.pem"],
        &[],
    );
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("--bus-ca-file: /nonexistent/ca.pem"), "{}", out.stderr);
    // A key that is not there: check-config reads the files as the server would, and fails.
    let out = check_config(&binary, &file, &["--tls-key", "/nonexistent/privkey.pem"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("--tls-key") && out.stderr.contains("/nonexistent/privkey.pem"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_from_a_config_file_and_from_serve_with_flags_after_it() {
    let binary = server_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("from-the-file");
    let file = dir.path().join("kanect.toml");
    std::fs::write(&file, format!("data-dir = {:?}\nno-search = true\n", data.display().to_string())).expect("write");
    let server = start_process(&binary, [OsStr::new("--config"), file.as_os_str()], &[]);
    assert_eq!(request(server.addr, "GET", "/health", None, None).await.status, 200);
    signup(server.addr, "filed").await;
    assert_eq!(server.terminate(), Some(0));
    assert!(std::fs::read_dir(&data).expect("the data dir the file names").next().is_some());
    assert!(!data.join("search").exists(), "no-search = true from the file was not applied");

    let server = start_process(&binary, ["serve", "--memory", "--no-push"], &[]);
    assert_eq!(request(server.addr, "GET", "/health", None, None).await.status, 200);
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn the_pool_size_is_a_setting_of_a_shared_store_within_its_range() {
    let binary = server_binary();
    let (_dir, file) = config_file("store-pool-size = 4\n");
    let store = [("KANECT_STORE", "postgres://kanect@db.internal/kanect")];
    let out = check_config(&binary, &file, &[], &store);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(setting(&out.stdout, "store-pool-size"), ("4", "file"));
    // Without a shared store there is no pool to size.
    let out = check_config(&binary, &file, &[], &[]);
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    assert!(out.stderr.contains("needs --store"), "{}", out.stderr);
    // At the limits and past them.
    for (size, code) in [("1", 0), ("1000", 0), ("0", 2), ("1001", 2)] {
        let out = check_config(&binary, &file, &["--store-pool-size", size], &store);
        assert_eq!(out.code, Some(code), "{size}: {}", out.stderr);
    }
}
