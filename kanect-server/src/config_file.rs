//! `--config FILE`: settings from a TOML file, beneath the environment and the flags.
//!
//! Every setting is one flag, and a file's key is that flag's name without its dashes
//! (`data-dir = "/var/lib/kanect"`, `no-search = true`, `allowed-origin = ["https://a", ...]`).
//! Rather than parse the file into a second set of types, its settings are handed to clap as
//! flags, placed after the command line's, for every key that neither the command line nor the
//! environment already sets. So there is one precedence (flag > environment > file > default),
//! every value goes through the parser its flag has, and every rule between flags (conflicts,
//! requirements) holds for the file too. An unknown key, a value of the wrong kind or a value
//! its flag refuses stops the start, naming the file and the key.
//!
//! `check-config` prints the outcome ([`Settings::effective`]): every setting as a config file
//! would hold it, where its value came from beside it, secrets masked.

use crate::cli::{Cli, Rule, RULES};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use std::collections::BTreeSet;
use std::error::Error as _;
use std::ffi::OsString;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The settings in effect: the parsed command line, and what each value's source was.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The settings, parsed.
    pub(crate) cli: Cli,
    /// What clap matched, for each value's source.
    matches: ArgMatches,
    /// The config file read, if any.
    file: Option<PathBuf>,
    /// The ids of the settings that came from the file.
    from_file: BTreeSet<String>,
}

/// Why the settings could not be read.
#[derive(Debug)]
pub(crate) enum Failure {
    /// From clap: a bad flag or value (or `--help`, `--version`), which clap prints itself.
    Clap(clap::Error),
    /// The config file: unreadable, not TOML, an unknown key, a value of the wrong kind.
    File(String),
    /// A rule between settings broken (`cli::RULES`), wherever each came from.
    Rule(String),
}

/// The settings from the command line `args` (the program's name first), the environment and
/// the config file the first two name.
pub(crate) fn settings(args: &[OsString]) -> Result<Settings, Failure> {
    let command = Cli::command();
    // Leniently first: only to find the config file and which settings the command line and
    // the environment give.
    let lenient = command.clone().ignore_errors(true).try_get_matches_from(args).map_err(Failure::Clap)?;
    let file = lenient.get_one::<PathBuf>("config").cloned();
    let mut from_file = BTreeSet::new();
    let mut file_args = Vec::new();
    if let Some(path) = &file {
        for (key, value) in read_table(path)? {
            let arg = setting_named(&command, &key)
                .ok_or_else(|| Failure::File(format!("{}: unknown key `{key}`{}", path.display(), suggestion(&key))))?;
            let id = arg.get_id().as_str();
            if matches!(lenient.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
                continue;
            }
            let flags =
                as_flags(arg, &key, value).map_err(|why| Failure::File(format!("{}: {why}", path.display())))?;
            if !flags.is_empty() {
                from_file.insert(id.to_string());
            }
            file_args.extend(flags);
        }
    }
    // After the command line's own: in the subcommand's part of it, if it names one. clap checks
    // the rules between flags (`--tls-cert` needs `--tls-key`) among those given at one level,
    // and the file's settings meet the command line's there.
    // Before a `--`, if the command line has one: after it they would be no flags.
    let end = args.iter().position(|arg| arg == "--").unwrap_or(args.len());
    let mut all: Vec<OsString> = args[..end].to_vec();
    all.extend(file_args);
    all.extend(args[end..].iter().cloned());
    let matches =
        command.try_get_matches_from(&all).map_err(|error| explain_file_value(error, file.as_deref(), &from_file))?;
    let cli = Cli::from_arg_matches(&matches).map_err(Failure::Clap)?;
    let settings = Settings { cli, matches, file, from_file };
    settings.check_rules()?;
    Ok(settings)
}

/// The file's top-level table.
fn read_table(path: &Path) -> Result<toml::Table, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| Failure::File(format!("{}: {error}", path.display())))?;
    text.parse::<toml::Table>().map_err(|error| Failure::File(format!("{}: {error}", path.display())))
}

/// The setting a file's key names: a flag of the server's, by its long name (not `config`,
/// `help` or `version`, which are no settings).
fn setting_named<'a>(command: &'a clap::Command, key: &str) -> Option<&'a Arg> {
    command.get_arguments().filter(|arg| is_setting(arg)).find(|arg| arg.get_long() == Some(key))
}

/// Whether `arg` is a setting (a file may hold it, `check-config` prints it).
fn is_setting(arg: &Arg) -> bool {
    arg.get_long().is_some_and(|long| !matches!(long, "config" | "help" | "version"))
}

/// " (did you mean `x`?)" for the setting nearest to an unknown key, if one is near.
fn suggestion(key: &str) -> String {
    let command = Cli::command();
    let nearest = command
        .get_arguments()
        .filter(|arg| is_setting(arg))
        .filter_map(|arg| arg.get_long())
        .map(|long| (edit_distance(key, long), long))
        .min();
    match nearest {
        Some((distance, long)) if distance <= 2 || long.contains(key) || key.contains(long) => {
            format!(" (did you mean `{long}`?)")
        }
        _ => " (a key is a flag's name without its dashes: see `kanect --help`)".to_string(),
    }
}

/// Levenshtein distance, for [`suggestion`] (flags' names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The flags that say what `value` says for `arg`: `--key=value` (one per item of a list), a
/// bare `--key` for `true` of a switch, nothing for its `false` (a switch's default).
fn as_flags(arg: &Arg, key: &str, value: toml::Value) -> Result<Vec<OsString>, String> {
    let switch = matches!(arg.get_action(), ArgAction::SetTrue);
    let list = matches!(arg.get_action(), ArgAction::Append);
    let items = match value {
        toml::Value::Boolean(on) if switch => return Ok(if on { vec![format!("--{key}").into()] } else { Vec::new() }),
        _ if switch => return Err(format!("`{key}` is a switch: true or false")),
        toml::Value::Array(items) if list => items,
        toml::Value::Array(_) => return Err(format!("`{key}` takes one value, not a list")),
        value => vec![value],
    };
    items
        .into_iter()
        .map(|item| match item {
            toml::Value::String(text) => Ok(format!("--{key}={text}").into()),
            toml::Value::Integer(number) => Ok(format!("--{key}={number}").into()),
            toml::Value::Float(number) => Ok(format!("--{key}={number}").into()),
            other => Err(format!("`{key}` takes a string or a number, not {}", other.type_str())),
        })
        .collect()
}

/// A value clap refused that came from the file: said with the file's name and key, as the
/// file is where it has to be fixed.
fn explain_file_value(error: clap::Error, file: Option<&Path>, from_file: &BTreeSet<String>) -> Failure {
    let (Some(path), Some(ContextValue::String(flag))) = (file, error.get(ContextKind::InvalidArg)) else {
        return Failure::Clap(error);
    };
    // `--listen <LISTEN>`: the long name, as the file's key.
    let key = flag.trim_start_matches('-').split([' ', '=']).next().unwrap_or_default().to_string();
    let command = Cli::command();
    let from_the_file = setting_named(&command, &key).is_some_and(|arg| from_file.contains(arg.get_id().as_str()));
    let value_error = matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation);
    if !(from_the_file && value_error) {
        return Failure::Clap(error);
    }
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => format!(" {value:?}"),
        _ => String::new(),
    };
    let why = match error.source() {
        Some(source) => format!(": {source}"),
        None => match error.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(valid)) => format!(": expected one of {}", valid.join(", ")),
            _ => String::new(),
        },
    };
    Failure::File(format!("{}: key `{key}`: invalid value{value}{why}", path.display()))
}

impl Settings {
    /// Every setting as a config file would hold it, with its source in a comment after it
    /// (`default`, `file`, `env KANECT_...`, `flag`); defaults and settings without a value as
    /// comments;
    /// secrets (the values of `--store`, `--bus`, `--smtp-url`, `--admin-password`, which
    /// `--help` does not show from the environment either) masked.
    pub(crate) fn effective(&self) -> String {
        let mut out = String::new();
        match &self.file {
            Some(path) => {
                let _ = writeln!(out, "# kanect's settings: flags, then the environment, then {}", path.display());
            }
            None => {
                let _ = writeln!(out, "# kanect's settings: flags, then the environment (no config file)");
            }
        }
        let command = Cli::command();
        for arg in command.get_arguments().filter(|arg| is_setting(arg)) {
            let (Some(key), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
            let source = self.source(arg);
            let values: Vec<String> = self
                .matches
                .get_raw(id)
                .map(|raw| raw.map(|value| value.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let secret = arg.is_hide_env_values_set();
            let urls = ["store", "bus", "smtp_url"].contains(&id);
            let shown: Vec<String> = values
                .iter()
                .map(|value| toml_value(arg, &if secret { masked(value, urls) } else { value.clone() }))
                .collect();
            let assignment = match shown.as_slice() {
                [] => format!("{key} = (not set)"),
                [one] if !matches!(arg.get_action(), ArgAction::Append) => format!("{key} = {one}"),
                many => format!("{key} = [{}]", many.join(", ")),
            };
            // Defaults as comments: the output, used as a config file, sets what was set and
            // leaves the rest to the defaults (`bus-prefix` set would need `bus`).
            let line = if shown.is_empty() || source == "default" { format!("# {assignment}") } else { assignment };
            let _ = writeln!(out, "{line:<60} # {source}");
        }
        out
    }

    /// Whether the setting `id` was given (by a flag, the environment or the file), not left
    /// to its default; a switch only when on.
    fn given(&self, id: &str) -> bool {
        let set = self.from_file.contains(id)
            || matches!(self.matches.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        let switch_off = matches!(self.matches.try_get_one::<bool>(id), Ok(Some(false)));
        set && !switch_off
    }

    /// Checks `cli::RULES` against what was given.
    fn check_rules(&self) -> Result<(), Failure> {
        for rule in RULES {
            let broken = match *rule {
                Rule::Needs(id, needed) => (self.given(id) && !self.given(needed))
                    .then(|| format!("{} needs {} as well", spelled(id), spelled(needed))),
                Rule::ServingNeeds(id, needed) => (self.cli.serving() && self.given(id) && !self.given(needed))
                    .then(|| format!("{} needs {} as well", spelled(id), spelled(needed))),
                Rule::Excludes(id, other) => (self.given(id) && self.given(other))
                    .then(|| format!("{} and {} cannot both be given", spelled(id), spelled(other))),
            };
            if let Some(why) = broken {
                return Err(Failure::Rule(why));
            }
        }
        Ok(())
    }

    /// Where `arg`'s value came from.
    fn source(&self, arg: &Arg) -> String {
        let id = arg.get_id().as_str();
        if self.from_file.contains(id) {
            return "file".to_string();
        }
        match self.matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag".to_string(),
            Some(ValueSource::EnvVariable) => {
                format!("env {}", arg.get_env().map(|name| name.to_string_lossy()).unwrap_or_default())
            }
            Some(ValueSource::DefaultValue) => "default".to_string(),
            _ => "not set".to_string(),
        }
    }
}

/// A setting as an operator may give it: `--tls-key (KANECT_TLS_KEY, tls-key in a config file)`.
fn spelled(id: &str) -> String {
    let command = Cli::command();
    let Some(arg) = command.get_arguments().find(|arg| arg.get_id() == id) else { return id.to_string() };
    let long = arg.get_long().unwrap_or(id);
    match arg.get_env() {
        Some(env) => format!("--{long} ({}, or `{long}` in a config file)", env.to_string_lossy()),
        None => format!("--{long}"),
    }
}

/// `value` as TOML: a switch's `true`/`false` and whole numbers bare, anything else a string
/// (JSON's string escapes are TOML's).
fn toml_value(arg: &Arg, value: &str) -> String {
    // A number only when it reads back as written: `007` or `+5` stay strings.
    let number = value.parse::<i64>().is_ok_and(|number| number.to_string() == value);
    let bare = matches!(arg.get_action(), ArgAction::SetTrue) || number;
    if bare {
        value.to_string()
    } else {
        serde_json::Value::String(value.to_string()).to_string()
    }
}

/// A secret, masked: each URL of a (comma-separated) list keeps its scheme, its user and its
/// host (what an operator checks) with everything before the `@` but the user's name replaced
/// (a password, or a token alone), and its query dropped (it may hold a password too);
/// anything that is not such a list, or not a URL setting (`urls` false), is replaced whole.
fn masked(value: &str, urls: bool) -> String {
    const MASK: &str = "********";
    if value.is_empty() {
        return String::new();
    }
    if !urls {
        return MASK.to_string();
    }
    let urls: Option<Vec<String>> = value
        .split(',')
        .map(|url| {
            let (scheme, rest) = url.trim().split_once("://")?;
            if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
                return None;
            }
            // The last `@`: a password may hold one, percent-encoded or not.
            let (host_and_path, user) = match rest.rsplit_once('@') {
                Some((user_info, after)) => {
                    let user = user_info.split_once(':').map(|(user, _)| format!("{user}:{MASK}"));
                    (after, user.unwrap_or_else(|| MASK.to_string()))
                }
                None => (rest, String::new()),
            };
            let (host_and_path, query) = match host_and_path.split_once(['?', '#']) {
                Some((before, _)) => (before, format!("?{MASK}")),
                None => (host_and_path, String::new()),
            };
            let at = if user.is_empty() { "" } else { "@" };
            Some(format!("{scheme}://{user}{at}{host_and_path}{query}"))
        })
        .collect();
    match urls {
        Some(urls) => urls.join(","),
        None => MASK.to_string(),
    }
}

/// [`settings`] from the process's arguments; on a failure, the message and exit code 2 (as
/// clap's own usage errors).
pub(crate) fn settings_or_exit() -> Settings {
    let args: Vec<OsString> = std::env::args_os().collect();
    match settings(&args) {
        Ok(settings) => settings,
        Err(Failure::Clap(error)) => error.exit(),
        Err(Failure::File(why)) => {
            eprintln!("kanect: config file {why}");
            std::process::exit(2);
        }
        Err(Failure::Rule(why)) => {
            eprintln!("kanect: {why}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_of_a_url_and_keeps_the_rest() {
        assert_eq!(
            masked("postgres://kanect:s3cret@db:5432/kanect", true),
            "postgres://kanect:********@db:5432/kanect"
        );
        assert_eq!(
            masked("smtp://user:p%40ss@mail.example.com:587?tls=starttls", true),
            "smtp://user:********@mail.example.com:587?********"
        );
        assert_eq!(masked("nats://127.0.0.1:4222", true), "nats://127.0.0.1:4222");
        assert_eq!(masked("a plain password", true), "********");
        assert_eq!(masked("postgres://db/kanect?password=x", true), "postgres://db/kanect?********");
        // A token alone, several servers, and a password with the URL's own characters in it.
        assert_eq!(masked("nats://s3cr3t-token@nats:4222", true), "nats://********@nats:4222");
        assert_eq!(
            masked("nats://u:p1@h1:4222,nats://u:p2@h2:4222", true),
            "nats://u:********@h1:4222,nats://u:********@h2:4222"
        );
        assert_eq!(masked("postgres://kanect:a/b?c@d#e@db/kanect", true), "postgres://kanect:********@db/kanect");
        assert_eq!(masked("a password with :// in it", true), "********");
        assert_eq!(masked("postgres://looks:like@a/url", false), "********");
    }

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(suggestion("listn"), " (did you mean `listen`?)");
        assert_eq!(suggestion("data_dir"), " (did you mean `data-dir`?)");
        assert!(suggestion("qqqqqqqqqq").contains("a flag's name"));
    }
}
