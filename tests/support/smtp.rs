//! A real SMTP server for the mail tests: aiosmtpd (from PyPI), started on a free 127.0.0.1
//! port, delivering into a Maildir that the tests read back.
//!
//! `KANECT_TEST_SMTP` names the Python interpreter that has aiosmtpd (`.ci/run` installs it and
//! sets `KANECT_TEST_SMTP=python3`); without it the mail tests are reported as ignored (see
//! `build.rs`), never passed vacuously.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running aiosmtpd. Dropping it kills the process.
pub struct SmtpServer {
    child: Child,
    /// Where it listens.
    pub port: u16,
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
    /// Starts aiosmtpd with the interpreter `KANECT_TEST_SMTP` names, and waits until it takes
    /// connections.
    pub fn start() -> SmtpServer {
        let python = std::env::var("KANECT_TEST_SMTP").expect("KANECT_TEST_SMTP: a python3 with aiosmtpd");
        let dir = tempfile::tempdir().expect("maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("box"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = SmtpServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The URL a mailer sends through.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
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
