//! What the servers of a test binary log, captured: one `tracing` subscriber for the whole
//! process writing into a buffer the tests read. One for the process, not one per thread: the
//! servers log from the runtime's worker threads and its blocking pool (the certificate poll),
//! which a thread-local subscriber would not see. Tests running at once share it, so each finds
//! its own lines (by the request ids it sent, or by reading only what came after a point).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The captured log (target `kanect_http`, level info and above).
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// The process's log, installed as its subscriber by the first test to ask.
    pub fn capture() -> &'static Log {
        static LOG: OnceLock<Log> = OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_env_filter("kanect_http=info")
                .with_writer(move || writer.clone())
                .init();
            log
        })
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The access line of the request with id `request_id`, waiting for it at most
    /// [`super::WAIT`].
    pub fn access(&self, request_id: &str) -> String {
        let quoted = format!("request_id=\"{request_id}\"");
        let started = Instant::now();
        loop {
            let text = self.text();
            let line = text.lines().find(|line| line.contains("kanect_http::access") && line.contains(&quoted));
            if let Some(line) = line {
                return line.to_owned();
            }
            assert!(started.elapsed() < super::WAIT, "no access line for request {request_id} in\n{text}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The `user_id` in the request span of request `request_id`'s access line, if it has one.
    pub fn user_of(&self, request_id: &str) -> Option<String> {
        let line = self.access(request_id);
        let fields = line.split("request{").nth(1).and_then(|rest| rest.split('}').next()).expect("the request span");
        fields.split(' ').find_map(|field| field.strip_prefix("user_id=")).map(str::to_owned)
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
