//! YAML decoding with Go's rules for duplicate keys.
//!
//! EKS Anywhere reads release data with `sigs.k8s.io/yaml`, whose YAML decoder is not strict:
//! a key given twice in one mapping takes its last value. Release files rely on it (EKS-A's
//! own test `bundles.yaml` repeats `cloudStack` in every versions bundle), while serde's
//! derived structs and `serde_yaml_ng::Value` both reject a duplicate. So a document is first
//! read into a [`serde_yaml_ng::Value`] through [`LastWins`], which keeps the last value of a
//! repeated key, and the typed structs are then decoded from that value, with the path of a
//! bad field reported by `serde_path_to_error`.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_yaml_ng::{Mapping, Value};

use crate::Error;

/// A YAML value decoded with last-wins duplicate keys.
struct LastWins(Value);

impl<'de> Deserialize<'de> for LastWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LastWinsVisitor).map(LastWins)
    }
}

struct LastWinsVisitor;

impl<'de> Visitor<'de> for LastWinsVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(LastWinsVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(LastWins(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some((LastWins(key), LastWins(value))) = map.next_entry()? {
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }
}

/// Deserializes one YAML document into `T`; `source` names the file in errors.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, source: &str) -> Result<T, Error> {
    let parse_error = |path: String, message: String| Error::Parse {
        source_name: source.to_string(),
        path,
        message,
    };
    let LastWins(value) = serde_yaml_ng::from_str(text)
        .map_err(|e: serde_yaml_ng::Error| parse_error(".".to_string(), e.to_string()))?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        parse_error(path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        a: i64,
        b: Vec<String>,
    }

    #[test]
    fn a_repeated_key_takes_its_last_value() {
        let doc: Doc = parse("a: 1\nb: [x]\na: 2\n", "t").expect("parses");
        assert_eq!(doc.a, 2);
        assert_eq!(doc.b, ["x"]);
    }

    #[test]
    fn syntax_and_type_errors_say_where() {
        let err = parse::<Doc>("a: [\n", "t.yaml").expect_err("syntax");
        assert!(err.to_string().starts_with("t.yaml: .: "), "{err}");
        let err = parse::<Doc>("a: 1\nb: [x, [y]]\n", "t.yaml").expect_err("type");
        assert!(err.to_string().starts_with("t.yaml: b[1]: "), "{err}");
    }
}
