//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert`, on rustls (ring).
//!
//! What each mode checks, as in libpq:
//!
//! | `sslmode`     | encrypted                      | certificate checked                                 |
//! |---------------|--------------------------------|-----------------------------------------------------|
//! | `disable`     | never                          | —                                                   |
//! | `prefer`      | when the server offers TLS     | only its chain, and only if `sslrootcert` is given |
//! | `require`     | always (else no connection)    | only its chain, and only if `sslrootcert` is given |
//! | `verify-ca`   | always                         | its chain, to `sslrootcert` or the system's roots   |
//! | `verify-full` | always                         | its chain and that it names the host connected to   |
//!
//! `prefer` is the default, as in libpq: a server that offers TLS gets an encrypted session
//! without any setting, one that does not still gets a connection. Where libpq's default roots
//! are `~/.postgresql/root.crt`, Kanect's are the system's (`rustls-native-certs`: on Linux
//! `/etc/ssl/certs` and `SSL_CERT_FILE`/`SSL_CERT_DIR`): a server process has no home directory
//! worth relying on, and an operator adds a private CA where every other program finds it.
//! `sslrootcert=system` asks for them explicitly and, as in libpq, then defaults to
//! `verify-full` and refuses any weaker mode.
//!
//! Two differences from libpq, both stricter: under `prefer` a TLS handshake that fails (a
//! chain that `sslrootcert` does not sign) is an error, not a retry without TLS; and `allow`
//! is not offered (tokio-postgres has no plain-first connection).
//!
//! Client certificates (`sslcert`, `sslkey`) are not supported: tokio-postgres refuses those
//! parameters as unknown options.

use super::conninfo::Split;
use super::PgError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a connection to PostgreSQL uses TLS: libpq's `sslmode` (all but `allow`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PgSslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, a plain connection when it does not; the certificate is
    /// not checked unless a root certificate file is given. libpq's default, and Kanect's.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked unless a root certificate file is
    /// given (then as [`VerifyCa`](Self::VerifyCa)). Encryption against eavesdroppers, not
    /// against someone in the middle.
    Require,
    /// TLS, and the certificate must chain to a trusted root; its names are not checked.
    VerifyCa,
    /// TLS, the certificate must chain to a trusted root and name the host connected to.
    VerifyFull,
}

impl PgSslMode {
    /// The five, as libpq spells them.
    pub const ALL: [PgSslMode; 5] =
        [PgSslMode::Disable, PgSslMode::Prefer, PgSslMode::Require, PgSslMode::VerifyCa, PgSslMode::VerifyFull];

    /// The mode as libpq spells it (`verify-full`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PgSslMode::Disable => "disable",
            PgSslMode::Prefer => "prefer",
            PgSslMode::Require => "require",
            PgSslMode::VerifyCa => "verify-ca",
            PgSslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for PgSslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PgSslMode {
    type Err = UnknownSslMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        PgSslMode::ALL.into_iter().find(|mode| mode.as_str() == text).ok_or_else(|| UnknownSslMode(text.to_string()))
    }
}

/// A `sslmode` that is none of [`PgSslMode`]'s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("sslmode {0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
pub struct UnknownSslMode(String);

/// Where the trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    /// None: the certificate is not checked.
    Unchecked,
    /// A PEM file of CA certificates (`sslrootcert=FILE`).
    File(PathBuf),
    /// The system's (`sslrootcert=system`, or a verify mode without `sslrootcert`).
    System,
}

/// The TLS settings in force for a store: the mode and the roots, resolved from the
/// [`PgConfig`](super::PgConfig) and its URL.
#[derive(Clone, Debug)]
pub(super) struct Tls {
    mode: PgSslMode,
    roots: Roots,
}

impl Tls {
    /// The settings from the config's fields and the URL's parameters. A setting given in both
    /// places must agree: which one was meant is not for the store to guess.
    pub(super) fn resolve(mode: Option<PgSslMode>, root_cert: Option<&Path>, from_url: &Split) -> Result<Tls, PgError> {
        let url_mode = match &from_url.ssl_mode {
            Some(text) => Some(text.parse::<PgSslMode>().map_err(|error| PgError::Config(error.to_string()))?),
            None => None,
        };
        let mode = agree("sslmode", mode, url_mode, |mode| mode.to_string())?;
        let url_root_cert = from_url.ssl_root_cert.as_ref().map(PathBuf::from);
        let root_cert =
            agree("sslrootcert", root_cert.map(Path::to_path_buf), url_root_cert, |path| path.display().to_string())?;
        let system = root_cert.as_deref() == Some(Path::new("system"));
        let mode = mode.unwrap_or(if system { PgSslMode::VerifyFull } else { PgSslMode::Prefer });
        if system && mode != PgSslMode::VerifyFull {
            return Err(PgError::Config(format!(
                "sslrootcert=system needs sslmode=verify-full, not {mode}: the system's roots trust any public \
                 certificate authority, so only a check of the host name makes them safe (as libpq)"
            )));
        }
        let roots = match (mode, root_cert) {
            (PgSslMode::Disable, _) => Roots::Unchecked,
            (_, Some(_)) if system => Roots::System,
            (_, Some(path)) if path.as_os_str().is_empty() => {
                return Err(PgError::Config("sslrootcert is empty: name a PEM file, or system".into()))
            }
            (_, Some(path)) => Roots::File(path),
            (PgSslMode::VerifyCa, None) => {
                return Err(PgError::Config(
                    "sslmode=verify-ca needs sslrootcert, the PEM file of the CA that signed the server's \
                     certificate: it does not check the host name, so with the system's roots any public \
                     CA's certificate for any name would pass (as libpq, which refuses it too)"
                        .into(),
                ))
            }
            (PgSslMode::VerifyFull, None) => Roots::System,
            (PgSslMode::Prefer | PgSslMode::Require, None) => Roots::Unchecked,
        };
        Ok(Tls { mode, roots })
    }

    /// The mode for tokio-postgres, which only knows whether to try TLS and whether to insist.
    pub(super) fn postgres_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode;
        match self.mode {
            PgSslMode::Disable => SslMode::Disable,
            PgSslMode::Prefer => SslMode::Prefer,
            PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
        }
    }

    /// The connector every pooled connection makes its TLS session with: the roots read once,
    /// here, so that a bad file fails the start and not each connection.
    pub(super) fn connector(&self) -> Result<MakeRustlsConnect, PgError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match &self.roots {
            Roots::Unchecked => None,
            Roots::File(path) => Some(Arc::new(roots_from_file(path)?)),
            Roots::System => Some(Arc::new(system_roots(self.mode)?)),
        };
        let verifier = Verifier { roots, check_name: self.mode == PgSslMode::VerifyFull, provider: provider.clone() };
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| PgError::Config(format!("TLS setup: {error}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // libpq sends this ALPN protocol since PostgreSQL 17, whose servers insist on it for a
        // direct TLS connection (`sslnegotiation=direct`); older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(config))
    }
}

impl fmt::Display for Tls {
    /// `sslmode=verify-full, sslrootcert=/etc/kanect/pg-ca.pem`: what an error adds, so that
    /// it names the settings a refused certificate or a refused TLS request was checked under.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sslmode={}", self.mode)?;
        match &self.roots {
            Roots::Unchecked => Ok(()),
            Roots::File(path) => write!(f, ", sslrootcert={}", path.display()),
            Roots::System => f.write_str(", the system's root certificates"),
        }
    }
}

/// `field` if only it is given, `url` likewise; both only if they are the same.
fn agree<T: PartialEq>(
    name: &str,
    field: Option<T>,
    url: Option<T>,
    show: impl Fn(&T) -> String,
) -> Result<Option<T>, PgError> {
    match (field, url) {
        (Some(field), Some(url)) if field != url => Err(PgError::Config(format!(
            "{name} is {} in the URL but {} in the settings: give it in one place",
            show(&url),
            show(&field)
        ))),
        (field, url) => Ok(field.or(url)),
    }
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, PgError> {
    let named = |what: String| PgError::Config(format!("sslrootcert {}: {what}", path.display()));
    let pem = std::fs::read(path).map_err(|error| named(format!("cannot be read: {error}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| named(format!("is not a PEM file: {error}")))?;
    if certificates.is_empty() {
        return Err(named("holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)".into()));
    }
    let mut roots = RootCertStore::empty();
    for (index, certificate) in certificates.into_iter().enumerate() {
        roots
            .add(certificate)
            .map_err(|error| named(format!("certificate {} cannot be a root: {error}", index + 1)))?;
    }
    Ok(roots)
}

fn system_roots(mode: PgSslMode) -> Result<RootCertStore, PgError> {
    let mut roots = RootCertStore::empty();
    for certificate in rustls_native_certs::load_native_certs().certs {
        // A certificate the system lists but rustls cannot read is skipped: the others stand.
        let _ = roots.add(certificate);
    }
    if roots.is_empty() {
        return Err(PgError::Config(format!(
            "sslmode={mode} checks PostgreSQL's certificate, and this system has no root certificates: \
             name the CA's PEM file with sslrootcert"
        )));
    }
    Ok(roots)
}

/// The server certificate check of every mode: none without roots, the chain with them, and the
/// host name too for `verify-full`. The handshake's own signatures are checked in every mode
/// (that the server holds the key of the certificate it sent).
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let certificate = ParsedCertificate::try_from(end_entity)?;
        let algorithms = self.provider.signature_verification_algorithms.all;
        verify_server_cert_signed_by_trust_anchor(&certificate, roots, intermediates, now, algorithms)?;
        if self.check_name {
            verify_server_name(&certificate, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, certificate, signature, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(mode: Option<PgSslMode>, root: Option<&str>, url: &str) -> Result<Tls, PgError> {
        let split = super::super::conninfo::split(url).unwrap();
        Tls::resolve(mode, root.map(Path::new), &split)
    }

    #[test]
    fn modes_read_as_libpq_spells_them() {
        for mode in PgSslMode::ALL {
            assert_eq!(mode.as_str().parse::<PgSslMode>(), Ok(mode));
        }
        for bad in ["allow", "VERIFY-FULL", "verify_full", ""] {
            let error = bad.parse::<PgSslMode>().unwrap_err();
            assert!(error.to_string().contains("sslmode") && error.to_string().contains("verify-full"), "{error}");
        }
    }

    #[test]
    fn the_default_is_prefer_and_verify_full_defaults_to_the_systems_roots() {
        let tls = resolve(None, None, "postgres://db/k").unwrap();
        assert_eq!((tls.mode, tls.roots), (PgSslMode::Prefer, Roots::Unchecked));
        let tls = resolve(None, None, "postgres://db/k?sslmode=verify-full").unwrap();
        assert_eq!((tls.mode, tls.roots), (PgSslMode::VerifyFull, Roots::System));
        // The system's roots without the host name's check would take any public CA's
        // certificate for any name: verify-ca needs the CA named.
        for (mode, url) in [(Some(PgSslMode::VerifyCa), "host=db"), (None, "postgres://db/k?sslmode=verify-ca")] {
            let error = resolve(mode, None, url).unwrap_err().to_string();
            assert!(error.contains("verify-ca needs sslrootcert"), "{error}");
        }
        let tls = resolve(None, Some("/ca.pem"), "postgres://db/k?sslmode=verify-ca").unwrap();
        assert_eq!((tls.mode, tls.roots), (PgSslMode::VerifyCa, Roots::File("/ca.pem".into())));
        let tls = resolve(Some(PgSslMode::Require), Some("/ca.pem"), "host=db").unwrap();
        assert_eq!(tls.to_string(), "sslmode=require, sslrootcert=/ca.pem");
        assert_eq!((tls.mode, tls.roots), (PgSslMode::Require, Roots::File("/ca.pem".into())));
        let tls = resolve(None, Some("/ca.pem"), "host=db sslmode=disable").unwrap();
        assert_eq!((tls.mode, tls.roots), (PgSslMode::Disable, Roots::Unchecked));
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weaker_modes() {
        let tls = resolve(None, None, "postgres://db/k?sslrootcert=system").unwrap();
        assert_eq!((tls.mode, tls.roots), (PgSslMode::VerifyFull, Roots::System));
        for weaker in ["require", "verify-ca", "prefer", "disable"] {
            let Err(PgError::Config(error)) = resolve(None, Some("system"), &format!("host=db sslmode={weaker}"))
            else {
                panic!("sslrootcert=system with sslmode={weaker} was taken");
            };
            assert!(error.contains("sslrootcert=system needs sslmode=verify-full"), "{error}");
        }
    }

    #[test]
    fn a_setting_given_twice_must_agree() {
        let same = resolve(Some(PgSslMode::VerifyFull), None, "postgres://db/k?sslmode=verify-full").unwrap();
        assert_eq!(same.mode, PgSslMode::VerifyFull);
        for (mode, root, url, named) in [
            (Some(PgSslMode::Require), None, "postgres://db/k?sslmode=verify-full", "sslmode"),
            (None, Some("/a.pem"), "postgres://db/k?sslrootcert=/b.pem", "sslrootcert"),
        ] {
            let Err(PgError::Config(error)) = resolve(mode, root, url) else { panic!("{url} was taken") };
            assert!(error.starts_with(named) && error.contains("in one place"), "{error}");
        }
    }

    #[test]
    fn a_bad_mode_in_the_url_or_an_empty_root_file_name_is_refused() {
        let Err(PgError::Config(error)) = resolve(None, None, "postgres://db/k?sslmode=allow") else { panic!() };
        assert!(error.contains("\"allow\""), "{error}");
        let Err(PgError::Config(error)) = resolve(None, None, "host=db sslmode=require sslrootcert=''") else {
            panic!()
        };
        assert!(error.contains("sslrootcert is empty"), "{error}");
    }
}
