//! Payload encryption for Web Push: RFC 8291 (message encryption for Web Push) over RFC 8188
//! (`aes128gcm` content coding), one record.
//!
//! For each message: a new ephemeral P-256 key pair and a random 16-byte salt; ECDH with the
//! browser's key (`p256dh`); `IKM = HKDF(auth, ecdh, "WebPush: info\0" ‖ ua_public ‖
//! as_public, 32)`; then `CEK = HKDF(salt, IKM, "Content-Encoding: aes128gcm\0", 16)` and
//! `NONCE = HKDF(salt, IKM, "Content-Encoding: nonce\0", 12)`; the plaintext, a `0x02`
//! delimiter (last record), AES-128-GCM. The body is the header (salt, record size 4096,
//! key-id length 65, the ephemeral public key) and the ciphertext. A unit test reproduces
//! RFC 8291's worked example byte for byte.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use kanect_core::PushRefused;
use p256::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size written in the header: larger than any payload Kanect sends, so one record.
const RECORD_SIZE: u32 = 4096;

/// Decodes base64url, padded or not (browsers send it unpadded).
pub(crate) fn base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// A subscription's keys, decoded and checked: `p256dh` must be an uncompressed point on P-256
/// (65 bytes), `auth` 16 bytes, both base64url.
///
/// # Errors
/// [`PushRefused::Keys`] otherwise.
pub(crate) fn decode_key(p256dh: &str, auth: &str) -> Result<(PublicKey, [u8; 16]), PushRefused> {
    let point = base64url(p256dh).filter(|bytes| bytes.len() == 65 && bytes[0] == 0x04).ok_or(PushRefused::Keys)?;
    let public = PublicKey::from_sec1_bytes(&point).map_err(|_| PushRefused::Keys)?;
    let auth = base64url(auth).and_then(|bytes| <[u8; 16]>::try_from(bytes).ok()).ok_or(PushRefused::Keys)?;
    Ok((public, auth))
}

/// Encrypts `plaintext` for the browser key `ua_public` and secret `auth`, with the
/// ephemeral key `ephemeral` and `salt` (both new for each message: [`encrypt_new`] makes
/// them; tests give them to reproduce known answers). Returns the request body.
pub(crate) fn encrypt(
    plaintext: &[u8],
    ua_public: &PublicKey,
    auth: &[u8; 16],
    ephemeral: &SecretKey,
    salt: &[u8; 16],
) -> Vec<u8> {
    let ua_bytes = ua_public.to_sec1_point(false);
    let as_public = ephemeral.public_key().to_sec1_point(false);
    let shared = diffie_hellman(ephemeral.to_nonzero_scalar(), ua_public.as_affine());

    let mut info = Vec::with_capacity(14 + 65 + 65);
    info.extend_from_slice(b"WebPush: info\0");
    info.extend_from_slice(ua_bytes.as_bytes());
    info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    expand(auth, shared.raw_secret_bytes(), &info, &mut ikm);
    let mut cek = [0u8; 16];
    expand(salt, &ikm, b"Content-Encoding: aes128gcm\0", &mut cek);
    let mut nonce = [0u8; 12];
    expand(salt, &ikm, b"Content-Encoding: nonce\0", &mut nonce);

    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02);
    let cipher = Aes128Gcm::new(&cek.into());
    // Encrypting a buffer in memory with a 16-byte key fails only past GCM's length limit.
    let sealed = cipher.encrypt(&Nonce::from(nonce), record.as_slice()).unwrap_or_default();

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    body
}

/// [`encrypt`] with a new ephemeral key and salt, as every real message is.
pub(crate) fn encrypt_new(plaintext: &[u8], ua_public: &PublicKey, auth: &[u8; 16]) -> Vec<u8> {
    use p256::elliptic_curve::Generate;
    use rand::rand_core::UnwrapErr;
    use rand::Rng;
    // Both from the operating system's generator, as the VAPID key is.
    let ephemeral = SecretKey::generate();
    let mut salt = [0u8; 16];
    UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut salt);
    encrypt(plaintext, ua_public, auth, &ephemeral, &salt)
}

fn expand(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
    // Lengths of 32 bytes at most are far within HKDF-SHA-256's 8160.
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> Vec<u8> {
        base64url(text).unwrap()
    }

    /// RFC 8291, Appendix A: the same inputs give the same body, byte for byte.
    #[test]
    fn the_rfc_8291_example_is_reproduced() {
        let ephemeral = SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let ua = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        let (ua_public, auth) = decode_key(ua, "BTBZMqHH6r4Tts7J_aSIgg").unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt(b"When I grow up, I want to be a watermelon", &ua_public, &auth, &ephemeral, &salt);
        let expected = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
        assert_eq!(URL_SAFE_NO_PAD.encode(body), expected);
    }

    #[test]
    fn bad_keys_are_refused() {
        let good = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        let auth = "BTBZMqHH6r4Tts7J_aSIgg";
        assert!(decode_key(good, auth).is_ok());
        assert!(decode_key(&format!("{good}=="), &format!("{auth}==")).is_ok(), "padding is taken");
        // Not base64url; one byte short; a compressed point; not on the curve; auth 15 bytes.
        assert_eq!(decode_key("B+/=", auth), Err(PushRefused::Keys));
        assert_eq!(decode_key(&good[..good.len() - 2], auth), Err(PushRefused::Keys));
        let mut point = b64(good);
        point[0] = 0x02;
        assert_eq!(decode_key(&URL_SAFE_NO_PAD.encode(&point[..33]), auth), Err(PushRefused::Keys));
        let mut off_curve = b64(good);
        off_curve[64] ^= 1;
        assert_eq!(decode_key(&URL_SAFE_NO_PAD.encode(off_curve), auth), Err(PushRefused::Keys));
        assert_eq!(decode_key(good, &URL_SAFE_NO_PAD.encode([0u8; 15])), Err(PushRefused::Keys));
        assert_eq!(decode_key(good, &URL_SAFE_NO_PAD.encode([0u8; 17])), Err(PushRefused::Keys));
    }
}
