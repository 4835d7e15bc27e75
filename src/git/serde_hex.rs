//! Object ids in serialized reports and journals: full 40-hex strings, as git prints them and
//! as docs/json.md promises. Use with `#[serde(with = "crate::git::serde_hex")]` on an [`Oid`]
//! field, `serde_hex::option` on an `Option<Oid>`, `serde_hex::map` on a `BTreeMap<Oid, Oid>`.

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

/// A map from ids to ids, as a JSON object of hex strings (`{"<id>": "<id>"}`). Held as ids, an
/// entry takes 40 bytes instead of two heap strings (~150 bytes): the state's record of every
/// commit that ever landed is read by most commands. Reading drops an entry whose key or value
/// is not an object id instead of refusing the whole map: such an entry could never match a
/// commit, and one damaged line of a state file should not stop every command.
pub mod map {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{MapAccess, Visitor};
    use serde::{Deserializer, Serialize, Serializer};

    use super::super::{Oid, parse_oid};

    struct Hex<'a>(&'a Oid);

    impl Serialize for Hex<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self.0)
        }
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<Oid, Oid>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (Hex(k), Hex(v))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Oid, Oid>, D::Error> {
        struct Ids;
        impl<'de> Visitor<'de> for Ids {
            type Value = BTreeMap<Oid, Oid>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of object ids to object ids")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = access.next_entry::<String, String>()? {
                    if let (Some(k), Some(v)) = (parse_oid(&k), parse_oid(&v)) {
                        out.insert(k, v);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Ids)
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

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct M {
        #[serde(with = "super::map")]
        m: std::collections::BTreeMap<Oid, Oid>,
    }

    #[test]
    fn id_maps_round_trip_as_hex_objects_and_drop_entries_that_are_not_ids() {
        let a = Oid::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let b = Oid::from_hex(b"89abcdef0123456789abcdef0123456789abcdef").unwrap();
        let m = M {
            m: [(a, b), (b, b)].into_iter().collect(),
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"m":{{"{a}":"{b}","{b}":"{b}"}}}}"#),
            "keys in order, full hex"
        );
        assert_eq!(serde_json::from_str::<M>(&json).unwrap(), m);
        let damaged = format!(r#"{{"m":{{"nope":"{b}","{a}":"{b}","{b}":"zz"}}}}"#);
        assert_eq!(
            serde_json::from_str::<M>(&damaged).unwrap().m,
            [(a, b)].into_iter().collect(),
            "the one good entry stays"
        );
        assert!(
            serde_json::from_str::<M>(r#"{"m":{"a":1}}"#).is_err(),
            "a value that is not a string is still an error"
        );
    }
}
