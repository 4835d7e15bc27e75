//! Object ids in serialized reports and journals: full 40-hex strings, as git prints them and
//! as docs/json.md promises. Use with `#[serde(with = "crate::git::serde_hex")]` on an [`Oid`]
//! field, or `serde_hex::option` on an `Option<Oid>`.

use serde::{Deserialize, Deserializer, Serializer};

use super::Oid;

pub fn serialize<S: Serializer>(id: &Oid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Oid, D::Error> {
    let hex = String::deserialize(d)?;
    super::parse_oid(&hex)
        .ok_or_else(|| serde::de::Error::custom(format!("`{hex}` is not an object id")))
}

/// The same for an optional id (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(id: &Option<Oid>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Oid>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(hex) => super::super::parse_oid(&hex)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("`{hex}` is not an object id"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "super")]
        id: Oid,
        #[serde(with = "super::option", default)]
        maybe: Option<Oid>,
    }

    #[test]
    fn ids_round_trip_as_full_hex_and_garbage_is_an_error() {
        let id = Oid::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let t = T { id, maybe: None };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(
            json,
            r#"{"id":"0123456789abcdef0123456789abcdef01234567","maybe":null}"#
        );
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        assert!(serde_json::from_str::<T>(r#"{"id":"nope"}"#).is_err());
    }
}
