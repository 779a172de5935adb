//! The `kanect` server binary as a real process: built by cargo with all its features, started
//! on 127.0.0.1 port 0, stopped with SIGTERM or killed with SIGKILL.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Builds the `kanect` binary (package `kanect-server`, in this test's target dir and profile)
/// with every feature it has (sled, PostgreSQL, NATS on top of its defaults), and returns its
/// path.
///
/// One build for every test: builds with different features would each compile the store and
/// the server again (minutes of CI), and would overwrite each other's uplifted `kanect`. The
/// browser tests (`tests/e2e/run.sh`) build the same way, so they reuse this build.
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let target_dir = profile_dir.parent().expect("target dir");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .args([
            "build",
            "--quiet",
            "--package",
            "kanect-server",
            "--bin",
            "kanect",
            "--all-features",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir);
    // What cargo set for this test process describes this package, and build scripts that
    // watch those names (ring's) would take them for a change and build again, and again when
    // the browser tests build from a shell.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        let for_this_test = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| name_text.starts_with(prefix));
        if for_this_test || name_text == "CARGO_TARGET_TMPDIR" || name_text == "OUT_DIR" {
            build.env_remove(&name);
        }
    }
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build --package kanect-server --all-features");
    profile_dir.join(format!("kanect{}", std::env::consts::EXE_SUFFIX))
}

/// A running server process. Dropping it kills the process (so a failing test leaves none).
pub struct ServerProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Where it serves `/metrics`, if started with `--metrics-listen`.
    pub metrics: Option<SocketAddr>,
}

/// Starts `binary --listen 127.0.0.1:0 --log warn <args>` with extra environment variables,
/// and waits for the line that names the bound address (reading the metrics address from the
/// line before it, if there is one).
pub fn start_process<I, S>(binary: &Path, args: I, env: &[(&str, &str)]) -> ServerProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    start_logging(binary, args, env, "warn", Stdio::inherit())
}

/// As [`start_process`], with the log filter `log` and the log (stderr) going to `stderr`.
pub fn start_logging<I, S>(binary: &Path, args: I, env: &[(&str, &str)], log: &str, stderr: Stdio) -> ServerProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    start_as(Command::new(binary), "127.0.0.1:0", args, env, log, stderr)
}

/// As [`start_logging`], with the process started by `command` (the binary, or `ip netns exec
/// NS binary`) listening on `listen`.
pub fn start_as<I, S>(
    mut command: Command,
    listen: &str,
    args: I,
    env: &[(&str, &str)],
    log: &str,
    stderr: Stdio,
) -> ServerProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = command
        .args(["--listen", listen, "--log", log])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the first line");
    let mut metrics = None;
    if let Some(rest) = line.trim().strip_prefix("kanect metrics on http://") {
        metrics = rest.strip_suffix("/metrics").and_then(|a| a.parse().ok());
        line.clear();
        stdout.read_line(&mut line).expect("the listening line");
    }
    // `http://ADDRESS`, or `https://ADDRESS` with `--tls-cert`.
    let addr = line.trim().rsplit("://").next().and_then(|a| a.parse().ok());
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("no address in {line:?} (did the server fail to start?)");
    };
    ServerProcess { child, addr, metrics }
}

impl ServerProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (the server reloads its TLS certificate).
    pub fn hang_up(&self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("SIGHUP");
    }

    /// SIGTERM, then the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }

    /// SIGKILL (no shutdown at all, as a crash or a pulled plug), and waits for the exit.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the killed server exits");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        match self.child.try_wait() {
            Ok(None) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
            // Said, so that a test failing because its server died shows why.
            Ok(Some(status)) if std::thread::panicking() => {
                eprintln!("the server on {} had exited: {status}", self.addr)
            }
            _ => {}
        }
    }
}

/// Runs `binary --listen 127.0.0.1:0 --log warn --memory ARGS` with `env`, for settings it
/// must refuse: it has to exit by itself (within 20 s, or the test fails and the process is
/// killed). Its exit code and what it wrote to stderr.
pub fn exit_of(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    exit_on(binary, &[&["--memory"], args].concat(), env)
}

/// As [`exit_of`], without `--memory`: for a store named by the arguments (`--store`).
pub fn exit_on(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--log", "warn"])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    for _ in 0..400 {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{args:?} {env:?}: the server started instead of refusing its settings");
}
