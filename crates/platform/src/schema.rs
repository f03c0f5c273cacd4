//! Schemas the derive cannot write from a field's Rust type. A field that names one value
//! of an enum is deserialized as a `String` and checked in code, so that an unknown name is
//! one more entry of a 422 `validation_failed` listing every bad field rather than serde's
//! "unknown variant" about the first one; its schema still has to say which names there are.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// An Indian PIN code in a document ([`crate::values::is_pincode`]; the pattern is
/// [`crate::values::PINCODE_PATTERN`]): for a list of them,
/// `#[schema(value_type = Vec<platform::schema::Pincode>)]`.
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[1-9][0-9]{5}$", example = "560001")]
pub struct Pincode(#[allow(dead_code)] String);

/// The schema of a string holding the name of one `E` (a `named_enum!` or any enum with
/// strum's `EnumIter` and `IntoStaticStr`), for `#[schema(schema_with = …)]` and
/// `#[param(schema_with = …)]`.
pub fn names<E>() -> Object
where
    E: strum::IntoEnumIterator + Into<&'static str>,
{
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::iter().map(Into::<&'static str>::into)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::named_enum! {
        #[strum(serialize_all = "snake_case")]
        enum Window { Morning, LateEvening }
    }

    #[test]
    fn the_pincode_schema_has_the_pattern_the_code_checks() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Pincode::schema()).unwrap();
        assert_eq!(schema["pattern"], crate::values::PINCODE_PATTERN);
    }

    #[test]
    fn the_schema_of_a_name_lists_every_name_the_code_accepts() {
        let schema = serde_json::to_value(names::<Window>()).unwrap();
        assert_eq!(
            schema,
            serde_json::json!({"type": "string", "enum": ["morning", "late_evening"]})
        );
        assert_eq!(
            Window::parse("late_evening").map(Window::as_str),
            Some("late_evening")
        );
    }
}
