//! The server's command line: its flags (each also an environment variable and a key of the
//! config file, see `config_file`), its subcommands, and the parsers of the values that are
//! more than a number or a word (rates, durations, retention).

use crate::bus::BusFlags;
use crate::mail::MailFlags;
use crate::store::{Purpose, StoreFlags};
use clap::{Parser, Subcommand};
use kanect::http::HttpConfig;
use kanect::{LoginLimits, Rate, RateLimits, SignUpMode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Kanect chat server: web app, REST, WebSocket and long-poll on one port.
///
/// Every setting is a flag, an environment variable (KANECT_...) and a key of the config file
/// (the flag's name without its dashes: `listen = "0.0.0.0:8080"`); a flag beats the
/// environment, which beats the file, which beats the default. Flags may come before or after
/// the subcommand (`create-admin NAME --data-dir DIR`).
#[derive(Parser, Debug)]
#[command(version)]
pub(crate) struct Cli {
    /// Read settings from this TOML file: one key per flag, named as the flag without its
    /// dashes (`data-dir = "/var/lib/kanect"`); an unknown key is refused, by name.
    #[arg(long, global = true, env = "KANECT_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, global = true, env = "KANECT_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Serve the Prometheus metrics page, `GET /metrics`, on this address (port 0 picks a free
    /// port; the bound address is printed). Off by default: the page is never on the client
    /// port. Bind it to an address only the scraper reaches, such as 127.0.0.1:9464.
    #[arg(long, global = true, env = "KANECT_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// How often (milliseconds) a node tells the others who is online on it; a node silent
    /// for three of these counts as gone, and its users as offline.
    #[arg(long, global = true, env = "KANECT_HEARTBEAT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..))]
    pub(crate) heartbeat_ms: u64,
    /// How long an online user may go without a device in use (input in the web app, its tab
    /// brought back) before showing as away: a whole number of seconds, minutes or hours, such
    /// as `30s`, `10m` or `1h`.
    #[arg(long, global = true, env = "KANECT_AWAY_AFTER", value_name = "DURATION", default_value = "10m", value_parser = away_after_setting)]
    pub(crate) away_after: Duration,
    /// `--away-after` in whole minutes: the older spelling, kept so that existing setups go on
    /// working.
    #[arg(long, global = true, env = "KANECT_AWAY_AFTER_MINUTES", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=AWAY_AFTER_MAX_SECS / 60))]
    pub(crate) away_after_minutes: Option<u64>,
    /// Log filter: a level (`info`, `debug`) or tracing directives (`kanect_http=debug,info`).
    #[arg(long, global = true, env = "KANECT_LOG", default_value = "info")]
    pub(crate) log: String,
    /// How log lines are written to stderr: `text` for people, `json` for a log collector (one
    /// JSON object a line, with the fields of its spans: the connection's peer, the request's
    /// id, method, route and user; the access log is target `kanect_http::access`).
    #[arg(long, global = true, env = "KANECT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// How often the server pings each WebSocket: a whole number of seconds, minutes or hours
    /// (`30s`). With --ws-idle-timeout, how soon a device whose
    /// network went away (no close, no reset: its packets just stop) counts as gone, and its
    /// user as offline: at most the sum of the two.
    #[arg(long, global = true, env = "KANECT_WS_PING_INTERVAL", value_name = "DURATION", default_value = "30s", value_parser = ws_duration_setting)]
    pub(crate) ws_ping_interval: Duration,
    /// A WebSocket from which nothing (not even a pong) arrived for this long is closed as
    /// dead: a whole number of seconds, minutes or hours, longer than --ws-ping-interval.
    #[arg(long, global = true, env = "KANECT_WS_IDLE_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = ws_duration_setting)]
    pub(crate) ws_idle_timeout: Duration,
    /// Extra origins allowed to open WebSockets (comma-separated, e.g. `https://chat.example.com`).
    #[arg(long, global = true, env = "KANECT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub(crate) allowed_origin: Vec<String>,
    /// Open connections the server holds at once; more wait for a free slot. Raise the
    /// process's file limit (`ulimit -n`) to match.
    #[arg(long, global = true, env = "KANECT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_connections: u64,
    /// Open connections one client address may hold (an IPv6 client: one /64); more are
    /// refused with `429 too_many_connections`. Trusted proxies are exempt.
    #[arg(long, global = true, env = "KANECT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_connections_per_address: u64,
    /// Devices (WebSockets and long-poll sessions) one account may have connected to this node;
    /// more are refused with `429 too_many_connections`.
    #[arg(long, global = true, env = "KANECT_MAX_DEVICES_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_devices_per_user: u64,
    /// Reverse proxies in front of the server (comma-separated IP addresses): their
    /// `X-Forwarded-For` names the client, and the per-address connection cap does not count
    /// them (cap per client at the proxy).
    #[arg(long, global = true, env = "KANECT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub(crate) trusted_proxy: Vec<std::net::IpAddr>,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate, then any
    /// intermediates), with `--tls-key`. Reloaded without a restart when the files change
    /// (checked every 5 s) or on SIGHUP; a bad new file keeps the old certificate.
    #[arg(long, global = true, env = "KANECT_TLS_CERT", value_name = "PATH")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, global = true, env = "KANECT_TLS_KEY", value_name = "PATH")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Mark cookies `Secure` (set when a TLS proxy sits in front; on with `--tls-cert`).
    #[arg(long, global = true, env = "KANECT_SECURE_COOKIES")]
    pub(crate) secure_cookies: bool,
    /// Turn every rate limit off, and the per-address caps on password hashes (for load tests:
    /// the load generator signs up hundreds of users from one address, many at once, and sends
    /// far faster than people do). Log-in slow-downs stay.
    #[arg(long, global = true, env = "KANECT_NO_RATE_LIMITS")]
    pub(crate) no_rate_limits: bool,
    /// Sends per account: BURST/PERIOD (e.g. 100/20s: 100 at once, 100 per 20 s), or `off`.
    #[arg(long, global = true, env = "KANECT_LIMIT_SENDS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().sends))]
    pub(crate) limit_sends: RateSetting,
    /// Typing signals per account: BURST/PERIOD, or `off`.
    #[arg(long, global = true, env = "KANECT_LIMIT_TYPING", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().typing))]
    pub(crate) limit_typing: RateSetting,
    /// Groups created per account: BURST/PERIOD, or `off`.
    #[arg(long, global = true, env = "KANECT_LIMIT_GROUPS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().group_creations))]
    pub(crate) limit_groups: RateSetting,
    /// Users added to groups per account (at creation or later): BURST/PERIOD, or `off`.
    #[arg(long, global = true, env = "KANECT_LIMIT_MEMBER_ADDITIONS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().member_additions))]
    pub(crate) limit_member_additions: RateSetting,
    /// Sign-ups per client address (IPv4 address or IPv6 /64): BURST/PERIOD, or `off`.
    #[arg(long, global = true, env = "KANECT_LIMIT_SIGNUPS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().sign_ups_per_address))]
    pub(crate) limit_signups: RateSetting,
    /// Delete messages older than DAYS (1 to 36500), as an administrator's delete does: each
    /// stays in its conversation's history as a deleted message without its text, and open
    /// clients are told. Checked at start and then hourly. `off` keeps messages forever.
    #[arg(long, global = true, env = "KANECT_MESSAGE_RETENTION", value_name = "DAYS", value_parser = retention_setting, default_value = "off", allow_negative_numbers = true)]
    pub(crate) message_retention: RetentionSetting,
    /// The largest file a user may upload, in MiB (1 to 1024).
    #[arg(long, global = true, env = "KANECT_MAX_FILE_SIZE", value_name = "MIB", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(crate) max_file_size: u64,
    /// What one account's files (thumbnails included) may take in all, in MiB (1 to 1048576).
    #[arg(long, global = true, env = "KANECT_STORAGE_QUOTA", value_name = "MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub(crate) storage_quota: u64,
    /// Who may sign up: `open` (anyone), `invite` (only with an invite link) or `closed` (only
    /// administrators create accounts, from the admin page or `create-admin`).
    #[arg(long, global = true, env = "KANECT_SIGN_UP", value_name = "MODE", default_value = "open", value_parser = sign_up_mode)]
    pub(crate) sign_up: SignUpMode,
    /// Let users (not only administrators) make invite links.
    #[arg(long, global = true, env = "KANECT_USERS_MAY_INVITE")]
    pub(crate) users_may_invite: bool,
    /// Turn Web Push off: no VAPID key is made, and push subscriptions get `501 push_disabled`
    /// (the web app's desktop notifications, while a tab is open, still work).
    #[arg(long, global = true, env = "KANECT_NO_PUSH")]
    pub(crate) no_push: bool,
    /// Who runs this server, for push services to contact (the VAPID `sub`): a `mailto:` or
    /// `https:` URL.
    #[arg(long, global = true, env = "KANECT_PUSH_SUBJECT", default_value = "mailto:postmaster@localhost")]
    pub(crate) push_subject: String,
    /// Allow push endpoints over plain http and on private, loopback or link-local addresses.
    /// Off by default, so that a subscription cannot make the server call into its own
    /// network: only for a push service on the operator's network, and for tests.
    #[arg(long, global = true, env = "KANECT_PUSH_ALLOW_PRIVATE_ENDPOINTS")]
    pub(crate) push_allow_private_endpoints: bool,
    /// How long after a message a push waits, in milliseconds: a member who reads it meanwhile
    /// on a device (their read receipt reaches it) is not pushed.
    #[arg(long, global = true, env = "KANECT_PUSH_GRACE_MS", default_value_t = 2000)]
    pub(crate) push_grace_ms: u64,
    /// At start, make sure this administrator exists (with KANECT_ADMIN_PASSWORD).
    #[arg(long, global = true, env = "KANECT_ADMIN_USERNAME")]
    pub(crate) admin_username: Option<String>,
    /// The password for KANECT_ADMIN_USERNAME when it is created.
    #[arg(long, global = true, env = "KANECT_ADMIN_PASSWORD", hide_env_values = true)]
    pub(crate) admin_password: Option<String>,
    #[command(flatten)]
    pub(crate) store: StoreFlags,
    #[command(flatten)]
    pub(crate) bus: BusFlags,
    #[command(flatten)]
    pub(crate) mail: MailFlags,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// A rule between two settings (by their ids, the fields' names), checked once all of them are
/// read (`config_file::settings`). Not clap's own `requires` and `conflicts_with`: clap checks
/// those among the settings given at one level of the command line, so `KANECT_TLS_CERT=... kanect
/// check-config --tls-key ...` would be refused, the certificate set for the top level and the
/// key for the subcommand's.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rule {
    /// The first, given, needs the second given as well.
    Needs(&'static str, &'static str),
    /// The two may not both be given.
    Excludes(&'static str, &'static str),
    /// As `Needs`, only in a process that serves.
    ServingNeeds(&'static str, &'static str),
}

/// Every rule between settings. A setting counts as given when a flag, the environment or the
/// config file gives it (a switch: turns it on), not by its default.
pub(crate) const RULES: &[Rule] = &[
    Rule::Needs("tls_cert", "tls_key"),
    Rule::Needs("tls_key", "tls_cert"),
    Rule::Excludes("memory", "store"),
    Rule::Needs("store_schema", "store"),
    Rule::Needs("store_pool_size", "store"),
    Rule::Needs("store_ssl_mode", "store"),
    Rule::Needs("store_ssl_root_cert", "store"),
    Rule::Needs("bus_prefix", "bus"),
    Rule::Needs("bus_credentials", "bus"),
    Rule::Excludes("bus_credentials", "bus_nkey"),
    Rule::Needs("bus_nkey", "bus"),
    Rule::Needs("bus_ca_file", "bus"),
    Rule::Needs("bus_client_cert", "bus"),
    Rule::Needs("bus_client_cert", "bus_client_key"),
    Rule::Needs("bus_client_key", "bus_client_cert"),
    Rule::Excludes("away_after_minutes", "away_after"),
    Rule::Excludes("smtp_url", "mail_log"),
    Rule::Needs("smtp_ca_file", "smtp_url"),
    Rule::ServingNeeds("admin_username", "admin_password"),
    Rule::ServingNeeds("admin_password", "admin_username"),
];

/// One rate limit as given on the command line: a rate, or off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateSetting(pub(crate) Option<Rate>);

/// Parses `BURST/PERIOD` (see `kanect::Rate`) or `off`.
fn rate_setting(text: &str) -> Result<RateSetting, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(RateSetting(None));
    }
    let rate =
        text.parse().map_err(|_| format!("{text:?}: expected BURST/PERIOD such as 100/20s or 10/50m, or off"))?;
    Ok(RateSetting(Some(rate)))
}

/// Parses `--sign-up`.
fn sign_up_mode(text: &str) -> Result<SignUpMode, String> {
    text.parse().map_err(|_| format!("{text:?}: expected open, invite or closed"))
}

/// `--message-retention`: how long messages are kept, or forever.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetentionSetting(pub(crate) Option<Duration>);

/// The longest retention `--message-retention` takes: 100 years. Longer is kept forever in all
/// but name, so a bigger number is far more likely a typo (a duration in hours or seconds,
/// digits twice) than a decision; forever is `off`.
const RETENTION_MAX_DAYS: u64 = 36_500;

/// Parses a whole number of days, 1 to [`RETENTION_MAX_DAYS`], or `off`.
fn retention_setting(text: &str) -> Result<RetentionSetting, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(RetentionSetting(None));
    }
    let expected =
        format!("expected a whole number of days from 1 to {RETENTION_MAX_DAYS}, or off to keep messages forever");
    let days: u64 = text.trim().parse().map_err(|_| expected.clone())?;
    if days == 0 {
        return Err(format!("0 days would delete every message at once; {expected}"));
    }
    if days > RETENTION_MAX_DAYS {
        return Err(format!("{days} days is over 100 years; {expected}"));
    }
    Ok(RetentionSetting(Some(Duration::from_secs(days * 24 * 3600))))
}

/// The longest `--away-after`: a week. Idle for longer is not "away" in any useful sense, so a
/// bigger number is far more likely a unit mistaken (seconds meant as minutes) than a decision.
const AWAY_AFTER_MAX_SECS: u64 = 7 * 24 * 3600;

/// Parses `--away-after`: a whole number of seconds (`s`), minutes (`m`) or hours (`h`), from
/// one second to [`AWAY_AFTER_MAX_SECS`].
/// Parses a WebSocket ping interval or idle timeout: as `away_after_setting`, up to an hour.
fn ws_duration_setting(text: &str) -> Result<Duration, String> {
    up_to_an_hour(text, "a dead socket would hold its slot that long")
}

/// `--from-timeout`: how long a backup over the API waits on a silent server.
pub(crate) fn from_timeout_setting(text: &str) -> Result<Duration, String> {
    up_to_an_hour(text, "a backup would wait that long on a server that went silent")
}

/// A duration of 1 s to an hour; `why` says what a longer one would do.
fn up_to_an_hour(text: &str, why: &str) -> Result<Duration, String> {
    if text.trim().trim_end_matches(['s', 'm', 'h']).parse::<u64>() == Ok(0) {
        return Err(format!("{:?}: must be at least 1s", text.trim()));
    }
    let duration = away_after_setting(text)?;
    if duration > Duration::from_secs(3600) {
        return Err(format!("{:?} is over an hour: {why}", text.trim()));
    }
    Ok(duration)
}

fn away_after_setting(text: &str) -> Result<Duration, String> {
    let expected = "expected a whole number of seconds, minutes or hours, such as 30s, 10m or 1h, up to a week";
    let text = text.trim();
    let (count, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let count: u64 = count.parse().map_err(|_| format!("{text:?}: {expected}"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{text:?}: {expected}")),
    };
    match count.checked_mul(unit_secs) {
        Some(0) => Err(format!("{text:?}: everyone would be away at once; {expected}")),
        Some(secs) if secs <= AWAY_AFTER_MAX_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{text:?} is over a week; {expected}")),
    }
}

/// As `--help` shows a default: the engine's.
impl std::fmt::Display for RateSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(rate) => rate.fmt(f),
            None => f.write_str("off"),
        }
    }
}

impl Cli {
    /// The log-in limits from the flags: the defaults, without the per-address admission to
    /// password hashing under `--no-rate-limits`.
    pub(crate) fn login_limits(&self) -> LoginLimits {
        if self.no_rate_limits {
            return LoginLimits::default().without_address_admission();
        }
        LoginLimits::default()
    }

    /// The HTTP adapter's settings from the flags.
    pub(crate) fn http_config(&self) -> HttpConfig {
        HttpConfig {
            allowed_origins: self.allowed_origin.clone(),
            secure_cookies: self.secure_cookies,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_address: usize::try_from(self.max_connections_per_address).unwrap_or(usize::MAX),
            trusted_proxies: self.trusted_proxy.clone(),
            ws_ping_interval: self.ws_ping_interval,
            ws_idle_timeout: self.ws_idle_timeout,
            ..HttpConfig::default()
        }
    }

    /// Whether this process serves (no subcommand, or `serve`): only then does it push, mail,
    /// index messages and run retention passes.
    pub(crate) fn serving(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }

    /// What this process opens the store for.
    pub(crate) fn purpose(&self) -> Purpose {
        match self.command {
            Some(Command::Export { .. } | Command::Import { .. }) => Purpose::Dump,
            Some(Command::Backup { .. }) => Purpose::Backup,
            Some(Command::CreateAdmin { .. }) => Purpose::CreateAdmin,
            None | Some(Command::Serve | Command::CheckConfig) => Purpose::Serve,
        }
    }

    /// The rate limits from the flags.
    pub(crate) fn rate_limits(&self) -> RateLimits {
        if self.no_rate_limits {
            return RateLimits::UNLIMITED;
        }
        RateLimits {
            sends: self.limit_sends.0,
            typing: self.limit_typing.0,
            group_creations: self.limit_groups.0,
            member_additions: self.limit_member_additions.0,
            sign_ups_per_address: self.limit_signups.0,
            ..RateLimits::default()
        }
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Serve the web app and the API (what `kanect` does without a subcommand).
    Serve,
    /// Check the settings (the config file, the environment and the flags, in that order of
    /// precedence) and the files they name (the TLS certificate and key read as the server
    /// reads them; the other files, that they are readable), then print the effective
    /// configuration as a config file, each value's source beside it and secrets masked. Exits
    /// non-zero on an error.
    CheckConfig,
    /// Create an administrator account; the password is read from stdin (one line).
    CreateAdmin {
        /// The administrator's username.
        name: String,
    },
    /// Write a dump of everything in the store to FILE (`-`: standard output): a versioned
    /// JSON Lines file (`kanect::store::backup`). Runs beside a server on PostgreSQL; a sled
    /// directory must not be in use. With `--from`, a running server's dump instead, over its
    /// API, logged in as an administrator (password on stdin, one line).
    Export {
        /// Where to write the dump.
        file: PathBuf,
        /// `--from`: a running server's dump instead.
        #[command(flatten)]
        remote: crate::remote_export::FromFlags,
    },
    /// A complete backup into the directory DIR: the dump (DIR/dump.jsonl) and the bytes of
    /// every attachment and avatar (DIR/blobs). DIR is created if missing; a non-empty DIR must
    /// hold an earlier backup, which is then brought up to date (only new files are copied).
    /// With `--from`, a running server's dump over its API, and the bytes read beside it from
    /// `--data-dir`/blobs (or `--store`'s PostgreSQL).
    Backup {
        /// The backup's directory.
        dir: PathBuf,
        /// `--from`: a running server's backup instead.
        #[command(flatten)]
        remote: crate::remote_export::FromFlags,
    },
    /// Replay a dump from FILE (`-`: standard input) into the store, which must be empty: how
    /// to restore a backup, or move to another backend (export from one, import into the other).
    /// FILE may be a directory `backup` wrote: the attachments' bytes are then restored too
    /// (into `--data-dir`/blobs, or `--store`'s PostgreSQL), each checked first.
    Import {
        /// The dump, or the backup directory, to read.
        file: PathBuf,
    },
}

/// `--log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}
