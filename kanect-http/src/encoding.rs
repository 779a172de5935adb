//! Content-coding negotiation (RFC 9110 §12.5.3): whether a response may go out gzipped, from
//! the request's `Accept-Encoding`. Used for the web app's files, which are gzipped at build time.
//!
//! Each coding gets the weight (`q`) the header gives it by name, else that of `*`, and
//! `x-gzip` is `gzip`. `identity` (no coding) is acceptable unless excluded by name or by `*`;
//! when the header does not weigh it, it comes last: a client that lists gzip at any weight
//! takes it over the plain bytes. A request
//! without the header gets the file as it is: RFC 9110 would allow any coding then, but clients
//! that send none (scripts, `curl` without `--compressed`) expect the plain bytes. When the
//! header excludes both (`identity;q=0, *;q=0`), the server does as §12.1 lets it and sends the
//! plain bytes rather than a `406`: a page that loads beats an error page. A malformed item (a
//! `q` that is not a number from 0 to 1 with at most three decimals) is ignored.

use hyper::header::{HeaderMap, ACCEPT_ENCODING};

/// Whether the client asked for gzip at least as much as for the plain bytes (gzip wins a tie:
/// it is smaller).
pub(crate) fn prefers_gzip(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(ACCEPT_ENCODING).iter().peekable();
    if values.peek().is_none() {
        return false;
    }
    let (mut gzip, mut identity, mut any) = (None, None, None);
    for item in values.filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let Some(weight) = weight(parts) else { continue };
        let slot = match coding.as_str() {
            "gzip" | "x-gzip" => &mut gzip,
            "identity" => &mut identity,
            "*" => &mut any,
            _ => continue,
        };
        *slot = Some(slot.map_or(weight, |earlier: u16| earlier.max(weight)));
    }
    let gzip = gzip.or(any).unwrap_or(0);
    let identity = identity.or(any).unwrap_or(1);
    gzip > 0 && gzip >= identity
}

/// The `q` among an item's parameters, in thousandths (1000 when absent); `None` if malformed.
fn weight<'a>(parameters: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut weight = 1000;
    for parameter in parameters {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            weight = thousandths(value.trim())?;
        }
    }
    Some(weight)
}

/// A qvalue (`0`, `0.5`, `1.000`, …; RFC 9110 §12.4.2) in thousandths.
fn thousandths(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(fraction),
        "1" if fraction == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn prefers(values: &[&'static str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_static(value));
        }
        prefers_gzip(&headers)
    }

    #[test]
    fn gzip_when_named_or_covered_by_a_star() {
        assert!(prefers(&["gzip, deflate, br, zstd"]), "what browsers send");
        assert!(prefers(&["GZIP"]));
        assert!(prefers(&["x-gzip"]));
        assert!(prefers(&["*"]));
        assert!(prefers(&["br", "gzip;q=0.5"]), "a second header line counts");
        assert!(prefers(&["identity;q=0.5, gzip;q=0.5"]), "a tie goes to the smaller");
        assert!(prefers(&["gzip;q=0.001"]), "the smallest weight above zero is a yes");
    }

    #[test]
    fn plain_when_not_asked_or_weighed_lower() {
        assert!(!prefers(&[]), "no header: the plain bytes");
        assert!(!prefers(&[""]), "an empty header asks for no coding");
        assert!(!prefers(&["identity"]));
        assert!(!prefers(&["br, deflate"]));
        assert!(!prefers(&["gzip;q=0"]));
        assert!(!prefers(&["gzip;q=0.000"]));
        assert!(!prefers(&["*;q=0"]));
        assert!(!prefers(&["gzip;q=0, *"]), "a named weight beats the star's");
        assert!(!prefers(&["gzip;q=0.5, identity;q=0.8"]));
        assert!(!prefers(&["gzip;q=0.5, *;q=0.9"]), "identity takes the star's weight");
        assert!(!prefers(&["identity;q=0, *;q=0"]), "nothing acceptable: the plain bytes");
    }

    #[test]
    fn q_values_at_their_limits_and_past_them() {
        assert_eq!(thousandths("1"), Some(1000));
        assert_eq!(thousandths("1.000"), Some(1000));
        assert_eq!(thousandths("1.001"), None);
        assert_eq!(thousandths("0.999"), Some(999));
        assert_eq!(thousandths("0.5"), Some(500));
        assert_eq!(thousandths("0.0001"), None, "four decimals");
        assert_eq!(thousandths("0"), Some(0));
        assert_eq!(thousandths("2"), None);
        assert_eq!(thousandths("-0"), None);
        assert_eq!(thousandths("0.x"), None);
        assert_eq!(thousandths(""), None);
        assert!(!prefers(&["gzip;q=2, identity;q=0.1"]), "a malformed item is ignored");
        assert!(prefers(&["gzip;level=9"]), "another parameter does not matter");
        assert!(!prefers(&["gzip;q"]), "a parameter without a value is malformed");
    }
}
