//! What the engine can read back: its 38 durable event types and the
//! top-level fields each requires (`engine_events.json`, taken from the
//! engine's event definition, embedded at build time).
//!
//! The engine's reader skips, silently, every line whose event it cannot
//! deserialize, so an event that fails [`engine_check`] is invisible to the
//! engine and to every client resuming through it. `append` refuses such
//! events (unless told otherwise) and `verify` reports them.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::journal::defect::DefectKind;

const ENGINE_EVENTS_JSON: &str = include_str!("engine_events.json");

#[derive(Debug, Deserialize)]
struct Schema {
    types: HashMap<String, TypeFields>,
}

/// The top-level fields of one event type (the schema's `optional` list is
/// not needed: only presence of the required ones is checked).
#[derive(Debug, Deserialize)]
pub(crate) struct TypeFields {
    pub(crate) required: Vec<String>,
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    // Embedded at build time and checked by a unit test: cannot fail at run time.
    serde_json::from_str(ENGINE_EVENTS_JSON).expect("engine_events.json is valid")
});

/// Why the engine could not read an event back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineProblem {
    #[error("the engine does not know event type '{event_type}' and would skip this line")]
    UnknownType { event_type: String },
    #[error(
        "a '{event_type}' event needs {}: the engine would skip this line",
        fields.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", ")
    )]
    MissingFields {
        event_type: String,
        /// The missing required fields, in the schema's order.
        fields: Vec<String>,
    },
}

impl EngineProblem {
    /// The defect `verify` reports for it.
    pub fn defect_kind(&self) -> DefectKind {
        match self {
            EngineProblem::UnknownType { .. } => DefectKind::EngineUnknownType,
            EngineProblem::MissingFields { .. } => DefectKind::EngineMissingField,
        }
    }
}

/// Checks that the engine could deserialize an event of `event_type` whose
/// top-level fields are `event` (the `type` field itself is not required to
/// be in `event`). Only presence is checked: nested shapes are not listed.
pub(crate) fn engine_check(
    event_type: &str,
    event: &Map<String, Value>,
) -> Result<(), EngineProblem> {
    let Some(fields) = SCHEMA.types.get(event_type) else {
        return Err(EngineProblem::UnknownType {
            event_type: event_type.to_owned(),
        });
    };
    let missing: Vec<String> = fields
        .required
        .iter()
        .filter(|f| !event.contains_key(f.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(EngineProblem::MissingFields {
            event_type: event_type.to_owned(),
            fields: missing,
        })
    }
}

/// The fields of a known type.
pub(crate) fn type_fields(event_type: &str) -> Option<&'static TypeFields> {
    SCHEMA.types.get(event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_embedded_schema_lists_the_38_types() {
        assert_eq!(SCHEMA.types.len(), 38);
        assert!(SCHEMA.types.contains_key("config.changed"));
        assert_eq!(
            type_fields("error").unwrap().required,
            vec!["message".to_owned()]
        );
    }

    #[test]
    fn checks_type_and_required_fields() {
        assert_eq!(
            engine_check(
                "error",
                &obj(serde_json::json!({"type":"error","message":"x"}))
            ),
            Ok(())
        );
        assert_eq!(engine_check("cancelled", &Map::new()), Ok(()));
        assert_eq!(
            engine_check("nope", &Map::new()),
            Err(EngineProblem::UnknownType {
                event_type: "nope".into()
            })
        );
        let err =
            engine_check("execution_started", &obj(serde_json::json!({"run_id":"r"}))).unwrap_err();
        assert_eq!(
            err,
            EngineProblem::MissingFields {
                event_type: "execution_started".into(),
                fields: vec!["session_id".into(), "started_at".into()]
            }
        );
        assert_eq!(
            err.to_string(),
            "a 'execution_started' event needs 'session_id', 'started_at': the engine would skip this line"
        );
        assert_eq!(err.defect_kind(), DefectKind::EngineMissingField);
    }
}
