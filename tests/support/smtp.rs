//! A real SMTP server for the mail tests: aiosmtpd (from PyPI), started on a free 127.0.0.1
//! port by `smtpd.py` beside this file, delivering into a Maildir that the tests read back.
//! Plain, or with TLS (STARTTLS required, or TLS from the first byte) and a login: its
//! certificate is made by the test, signed by a certificate authority the test also makes
//! (the private CA an operator gives with `--smtp-ca-file`).
//!
//! `KANECT_TEST_SMTP` names the Python interpreter that has aiosmtpd (`.ci/run` installs it and
//! sets `KANECT_TEST_SMTP=python3`); without it the mail tests are reported as ignored (see
//! `build.rs`), never passed vacuously.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The one user the TLS servers take mail from.
pub const SMTP_USER: &str = "kanect@example.com";
/// Their password.
pub const SMTP_PASSWORD: &str = "smtp pass:word";

/// How an [`SmtpServer`] is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain, no login, no STARTTLS offered.
    Plain,
    /// STARTTLS offered and required before anything else; a login required after it.
    StartTls,
    /// TLS from the first byte; a login required.
    Smtps,
}

/// A running aiosmtpd. Dropping it kills the process.
pub struct SmtpServer {
    child: Child,
    /// Where it listens.
    pub port: u16,
    /// How it is reached.
    pub security: Security,
    dir: tempfile::TempDir,
}

/// One delivered mail.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// Header names lower-cased; a repeated header keeps its last value.
    pub headers: HashMap<String, String>,
    /// The body, quoted-printable decoded if it was.
    pub body: String,
}

impl ReceivedMail {
    /// The header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The recipient, as the SMTP envelope had it.
    pub fn to(&self) -> &str {
        self.header("X-RcptTo").unwrap_or_default()
    }

    /// The token of the first link in the body that contains `marker` (`/#/verify/`,
    /// `/#/reset/`, `token=`): the 64 hex digits after it.
    pub fn token_after(&self, marker: &str) -> String {
        let at = self.body.find(marker).unwrap_or_else(|| panic!("no {marker:?} in {}", self.body));
        let token: String = self.body[at + marker.len()..].chars().take_while(char::is_ascii_hexdigit).collect();
        assert_eq!(token.len(), 64, "a 256-bit token after {marker:?} in {}", self.body);
        token
    }
}

impl SmtpServer {
    /// Starts a plain aiosmtpd (see [`SmtpServer::start_with`]).
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(Security::Plain)
    }

    /// Starts aiosmtpd with the interpreter `KANECT_TEST_SMTP` names, reached as `security`
    /// says (with TLS: a new CA and a certificate for 127.0.0.1 signed by it), and waits until
    /// it takes connections.
    pub fn start_with(security: Security) -> SmtpServer {
        let python = std::env::var("KANECT_TEST_SMTP").expect("KANECT_TEST_SMTP: a python3 with aiosmtpd");
        let dir = tempfile::tempdir().expect("maildir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtpd.py");
        let mut command = Command::new(python);
        // Port 0: the server binds a free port itself and prints it. A port picked here and
        // released could be picked again by a test running beside this one, whose server then
        // took this one's connections (and went away with them).
        command.arg(script).arg("0").arg(dir.path().join("box"));
        match security {
            Security::Plain => command.arg("plain"),
            Security::StartTls | Security::Smtps => {
                super::certs::TestCertificates::new().write(dir.path());
                let mode = if security == Security::StartTls { "starttls" } else { "smtps" };
                command
                    .arg(mode)
                    .args([dir.path().join("server.pem"), dir.path().join("server.key")])
                    .args([SMTP_USER, SMTP_PASSWORD])
                    .arg(dir.path().join("auth.log"))
            }
        };
        let mut child = command.stdout(Stdio::piped()).spawn().expect("start aiosmtpd");
        let stdout = child.stdout.take().expect("aiosmtpd's stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(Duration::from_secs(20));
        let port = line.as_deref().ok().and_then(|line| line.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            panic!("aiosmtpd did not say where it listens within 20 s: {line:?}");
        };
        SmtpServer { child, port, security, dir }
    }

    /// The URL a mailer sends through, with the right login for a TLS server.
    pub fn url(&self) -> String {
        self.url_as(SMTP_USER, SMTP_PASSWORD)
    }

    /// The URL a mailer sends through, logging in as `user` with `password` on a TLS server.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let encode = |text: &str| text.replace('%', "%25").replace('@', "%40").replace(':', "%3A").replace(' ', "%20");
        let login = format!("{}:{}", encode(user), encode(password));
        match self.security {
            Security::Plain => format!("smtp://127.0.0.1:{}?tls=none", self.port),
            Security::StartTls => format!("smtp://{login}@127.0.0.1:{}?tls=starttls", self.port),
            Security::Smtps => format!("smtps://{login}@127.0.0.1:{}", self.port),
        }
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Every login the server saw, in order: (accepted, user, password).
    pub fn logins(&self) -> Vec<(bool, String, String)> {
        let log = std::fs::read_to_string(self.dir.path().join("auth.log")).unwrap_or_default();
        log.lines()
            .map(|line| {
                let (verdict, rest) = line.split_once(' ').expect("a verdict");
                // The password is the rest after the user (which has no space here).
                let (user, password) = rest.split_once(' ').expect("user and password");
                (verdict == "OK", user.to_string(), password.to_string())
            })
            .collect()
    }

    fn new_dir(&self) -> PathBuf {
        self.dir.path().join("box").join("new")
    }

    /// Every mail delivered so far, to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<ReceivedMail> {
        let Ok(entries) = std::fs::read_dir(self.new_dir()) else { return Vec::new() };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|entry| (entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), entry.path()))
            .collect();
        // Maildir names start with the delivery's seconds and sort within one by a counter.
        files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        files.iter().map(|(_, path)| parse(path)).filter(|mail| mail.to() == to).collect()
    }

    /// Waits for the `n`th mail (1-based) to `to`, and returns it.
    pub async fn wait_for(&self, to: &str, n: usize) -> ReceivedMail {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= n {
                return mails[n - 1].clone();
            }
            assert!(Instant::now() < deadline, "mail {n} to {to} did not come; {} came", mails.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a delivered mail: headers (unfolded) and body.
fn parse(path: &Path) -> ReceivedMail {
    let text = std::fs::read_to_string(path).expect("a mail file");
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut headers = HashMap::new();
    let mut last: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = last.as_ref().and_then(|name| headers.get_mut(name)) {
                let value: &mut String = value;
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            headers.insert(name.clone(), value.trim().to_string());
            last = Some(name);
        }
    }
    let quoted = headers.get("content-transfer-encoding").is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
    let body = if quoted { decode_quoted_printable(body) } else { body.to_string() };
    ReceivedMail { headers, body }
}

/// Quoted-printable (RFC 2045): soft line breaks joined, `=XX` decoded.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if let Some(byte) = joined.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
