//! The one value encoding of the store: a format byte, then postcard (compact, serde-driven).
//! The byte lets a later release read old records during a migration.

use super::StoreError;
use serde::{Serialize, de::DeserializeOwned};

/// Format of every record written by this release.
const FORMAT: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Serialising plain records into a Vec cannot fail.
    postcard::to_io(value, &mut out).expect("postcard encodes records into a Vec");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(format!("{what} record does not decode: {e}")))
        }
        Some((other, _)) => Err(StoreError::Corrupt(format!("{what} record has unknown format {other}"))),
        None => Err(StoreError::Corrupt(format!("{what} record is empty"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Settings;

    #[test]
    fn round_trip_and_rejects_foreign_bytes() {
        let s = Settings::default();
        let bytes = encode(&s);
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(decode::<Settings>(&bytes, "settings").unwrap(), s);
        assert!(decode::<Settings>(&[], "settings").is_err());
        assert!(decode::<Settings>(&[9, 1, 2], "settings").unwrap_err().to_string().contains("unknown format 9"));
        assert!(decode::<Settings>(&[FORMAT, 0xff], "settings").is_err());
    }
}
