//! Crash ids: a UUID4 whose last seven characters carry the throttle result and the
//! submission date (`de1bb258-cbbf-4589-a673-34f801261124` = DEFER, 2026-11-24).
//!
//! The date inside the id, not the clock, decides where a crash is stored, so a crash
//! re-submitted with its id (bearer-token gated) lands beside its first copy.

use std::fmt;

use rand::RngCore;

use crate::timestamp::Date;

/// A well-formed crash id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrashId(String);

/// The throttle outcome recorded in a crash id's 7th-from-last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `0`: save and process.
    Accept = 0,
    /// `1`: save, do not process.
    Defer = 1,
    /// `3`: answer as accepted, save nothing.
    FakeAccept = 3,
}

/// Why a text is not a valid crash id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a valid crash id: {0:?}")]
pub struct InvalidCrashId(pub String);

impl CrashId {
    /// A fresh id from 122 random bits (UUID4), `kind` and `date`.
    pub fn generate(rng: &mut impl RngCore, kind: IdKind, date: Date) -> CrashId {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(36);
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        // The UUID's last 7 characters give way to the throttle digit and the date.
        text.truncate(29);
        text.push(char::from(b'0' + kind as u8));
        text.push_str(&date.yymmdd());
        CrashId(text)
    }

    /// Parses a client-supplied id, strictly: lowercase hex UUID shape, the throttle digit
    /// `0` or `1`, and six date digits.
    pub fn parse_strict(text: &str) -> Result<CrashId, InvalidCrashId> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 36
            && bytes.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                30..=35 => b.is_ascii_digit(),
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            })
            && matches!(bytes[29], b'0' | b'1');
        if shape_ok {
            Ok(CrashId(text.to_owned()))
        } else {
            Err(InvalidCrashId(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `20` + the id's last six digits: the `YYYYMMDD` of storage keys.
    pub fn date_key(&self) -> String {
        format!("20{}", &self.0[30..])
    }
}

impl fmt::Display for CrashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CrashId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CrashId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_ids_carry_kind_and_date() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let date = Date::new(2026, 11, 24).unwrap();
        for kind in [IdKind::Accept, IdKind::Defer] {
            let id = CrashId::generate(&mut rng, kind, date);
            assert_eq!(CrashId::parse_strict(id.as_str()), Ok(id.clone()));
            assert_eq!(&id.as_str()[29..], format!("{}261124", kind as u8));
            assert_eq!(&id.as_str()[14..15], "4");
            assert_eq!(id.date_key(), "20261124");
        }
        let fake = CrashId::generate(&mut rng, IdKind::FakeAccept, date);
        assert_eq!(&fake.as_str()[29..30], "3");
        // A fake-accept id is never valid as a client-supplied id.
        assert!(CrashId::parse_strict(fake.as_str()).is_err());
    }

    #[test]
    fn strict_parse_rejects_malformed_ids() {
        let good = "de1bb258-cbbf-4589-a673-34f801261124";
        assert!(CrashId::parse_strict(good).is_ok());
        for bad in [
            "",
            "DE1BB258-cbbf-4589-a673-34f801261124",
            "de1bb258-cbbf-4589-a673-34f8012611245",
            "de1bb258-cbbf-4589-a673-34f80126112",
            "de1bb258xcbbf-4589-a673-34f801261124",
            "de1bb258-cbbf-4589-a673-34f8012611a4",
            "de1bb258-cbbf-4589-a673-34f802261124",
            "ge1bb258-cbbf-4589-a673-34f801261124",
        ] {
            assert!(CrashId::parse_strict(bad).is_err(), "{bad}");
        }
    }
}
