//! What the engine can read back: its 38 durable event types and the
//! top-level event fields each one requires, from `engine_events.json` (a copy
//! of `../shared/engine-events.json`, embedded so the binary needs no file).
//!
//! The engine deserializes every line into its typed event and silently skips
//! a line it cannot: an unknown `event.type` or a missing required field. A
//! line that is valid JSON with a numeric seq can therefore still be invisible
//! to the engine; [`engine_check`] says so, and why.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

const ENGINE_EVENTS_JSON: &str = include_str!("engine_events.json");

/// Why the engine would skip a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineProblem {
    /// `event.type` is not one of the engine's durable event types.
    UnknownType { event_type: String },
    /// The event lacks fields its type requires (listed in schema order).
    MissingFields {
        event_type: String,
        fields: Vec<&'static str>,
    },
}

impl EngineProblem {
    pub fn describe(&self) -> String {
        match self {
            EngineProblem::UnknownType { event_type } => {
                format!(
                    "event type \"{event_type}\" is unknown to the engine, which skips the line"
                )
            }
            EngineProblem::MissingFields { event_type, fields } => format!(
                "\"{event_type}\" event lacks required field{} {}: the engine skips the line",
                if fields.len() == 1 { "" } else { "s" },
                fields.join(", ")
            ),
        }
    }
}

/// The engine's event types, each with its required fields.
pub struct EngineSchema {
    types: HashMap<String, Vec<&'static str>>,
}

#[derive(Deserialize)]
struct SchemaFile {
    types: HashMap<String, TypeEntry>,
}

#[derive(Deserialize)]
struct TypeEntry {
    required: Vec<String>,
}

impl EngineSchema {
    /// The embedded schema, parsed once.
    pub fn get() -> &'static EngineSchema {
        static SCHEMA: OnceLock<EngineSchema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            // The file is part of the source tree; a test parses it.
            let file: SchemaFile =
                serde_json::from_str(ENGINE_EVENTS_JSON).expect("engine_events.json is valid");
            let types = file
                .types
                .into_iter()
                .map(|(name, entry)| {
                    let required = entry
                        .required
                        .into_iter()
                        .map(|f| &*Box::leak(f.into_boxed_str()))
                        .collect();
                    (name, required)
                })
                .collect();
            EngineSchema { types }
        })
    }

    /// The required fields of `event_type`, or `None` for a type the engine does not know.
    pub fn required(&self, event_type: &str) -> Option<&[&'static str]> {
        self.types.get(event_type).map(Vec::as_slice)
    }

    /// Number of known event types.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Checks an event given a test for "the event has this key"; the shared
    /// core of [`engine_check`] and of verify's allocation-free fast path.
    pub fn check_with(
        &self,
        event_type: &str,
        has_field: impl Fn(&str) -> bool,
    ) -> Result<(), EngineProblem> {
        let Some(required) = self.required(event_type) else {
            return Err(EngineProblem::UnknownType {
                event_type: event_type.to_owned(),
            });
        };
        let missing: Vec<&'static str> =
            required.iter().copied().filter(|f| !has_field(f)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(EngineProblem::MissingFields {
                event_type: event_type.to_owned(),
                fields: missing,
            })
        }
    }
}

/// Whether the engine can read back an event of `event_type` holding the
/// fields of `event` (the `event` object of a record, `type` included or not).
/// Only presence is checked: the schema does not list nested shapes.
pub fn engine_check(event_type: &str, event: &Map<String, Value>) -> Result<(), EngineProblem> {
    EngineSchema::get().check_with(event_type, |f| event.contains_key(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn embedded_schema_has_the_engines_38_types() {
        let schema = EngineSchema::get();
        assert_eq!(schema.len(), 38);
        assert_eq!(schema.required("error"), Some(&["message"][..]));
        assert_eq!(schema.required("cancelled"), Some(&[][..]));
        assert!(schema.required("config.changed").is_some());
        assert_eq!(schema.required("nope"), None);
    }

    #[test]
    fn checks_type_and_required_fields() {
        let ev = obj(serde_json::json!({"type":"error","message":"boom"}));
        assert_eq!(engine_check("error", &ev), Ok(()));
        assert_eq!(
            engine_check("frobnicated", &ev),
            Err(EngineProblem::UnknownType {
                event_type: "frobnicated".into()
            })
        );
        let ev = obj(serde_json::json!({"type":"message_appended","role":"user","extra":1}));
        assert_eq!(
            engine_check("message_appended", &ev),
            Err(EngineProblem::MissingFields {
                event_type: "message_appended".into(),
                fields: vec!["content", "created_at", "message_id", "session_id"],
            })
        );
        // A type with no required field needs nothing but its tag.
        let ev = obj(serde_json::json!({"type":"cancelled"}));
        assert_eq!(engine_check("cancelled", &ev), Ok(()));
    }
}
