//! Annotations: a score or a label attached to a trace (or one span of it) after the fact,
//! e.g. a user's thumbs-up or an evaluator's grade. The value's Rust type decides its
//! `data_type`, so a value that does not match its type cannot be written.

use crate::SpanId;
use std::fmt;

/// The value of an annotation; its variant is the `data_type` on the wire.
///
/// Made with `.into()` from numbers (`numeric`), strings (`categorical`) and `bool`
/// (`boolean`):
///
/// ```
/// use staso_types::AnnotationValue;
/// assert_eq!(AnnotationValue::from(0.9).data_type(), "numeric");
/// assert_eq!(AnnotationValue::from(4u8).data_type(), "numeric");
/// assert_eq!(AnnotationValue::from("helpful").data_type(), "categorical");
/// assert_eq!(AnnotationValue::from(true).data_type(), "boolean");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnnotationValue {
    /// A score (`numeric`); must be finite.
    Numeric(f64),
    /// A label (`categorical`).
    Categorical(String),
    /// A yes/no (`boolean`).
    Boolean(bool),
}

impl AnnotationValue {
    /// The contract's `data_type` for this value.
    pub const fn data_type(&self) -> &'static str {
        match self {
            AnnotationValue::Numeric(_) => "numeric",
            AnnotationValue::Categorical(_) => "categorical",
            AnnotationValue::Boolean(_) => "boolean",
        }
    }
}

macro_rules! numeric_from {
    ($($t:ty),*) => {$(
        impl From<$t> for AnnotationValue {
            fn from(v: $t) -> Self {
                // Integers above 2^53 lose precision as a JSON number, as in any client.
                AnnotationValue::Numeric(v as f64)
            }
        }
    )*};
}
numeric_from!(f64, f32, i8, i16, i32, i64, u8, u16, u32, u64, isize, usize);

impl From<bool> for AnnotationValue {
    fn from(v: bool) -> Self {
        AnnotationValue::Boolean(v)
    }
}

impl From<&str> for AnnotationValue {
    fn from(v: &str) -> Self {
        AnnotationValue::Categorical(v.to_string())
    }
}

impl From<String> for AnnotationValue {
    fn from(v: String) -> Self {
        AnnotationValue::Categorical(v)
    }
}

impl From<&String> for AnnotationValue {
    fn from(v: &String) -> Self {
        AnnotationValue::Categorical(v.clone())
    }
}

impl serde::Serialize for AnnotationValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnnotationValue::Numeric(v) => s.serialize_f64(*v),
            AnnotationValue::Categorical(v) => s.serialize_str(v),
            AnnotationValue::Boolean(v) => s.serialize_bool(*v),
        }
    }
}

/// An annotation with its optional parts: the span it is about and a comment.
///
/// ```
/// use staso_types::Annotation;
/// let a = Annotation::new("helpfulness", 0.9).comment("graded by the eval suite");
/// assert_eq!(a.name(), "helpfulness");
/// assert!(a.check().is_ok());
/// assert!(Annotation::new("", 1).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    name: String,
    value: AnnotationValue,
    span_id: Option<SpanId>,
    comment: Option<String>,
}

impl Annotation {
    /// An annotation named `name` with `value` (its type decides the `data_type`).
    pub fn new(name: impl Into<String>, value: impl Into<AnnotationValue>) -> Annotation {
        Annotation {
            name: name.into(),
            value: value.into(),
            span_id: None,
            comment: None,
        }
    }

    /// About this span of the trace, not the whole trace.
    pub fn span_id(mut self, span_id: SpanId) -> Annotation {
        self.span_id = Some(span_id);
        self
    }

    /// A free-form comment (an empty one is not sent).
    pub fn comment(mut self, comment: impl Into<String>) -> Annotation {
        self.comment = Some(comment.into());
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &AnnotationValue {
        &self.value
    }

    /// The span it is about, if any.
    pub fn target_span(&self) -> Option<SpanId> {
        self.span_id
    }

    /// The comment, unless empty.
    pub fn comment_text(&self) -> Option<&str> {
        self.comment.as_deref().filter(|c| !c.is_empty())
    }

    /// The checks made before an annotation is accepted: a non-empty name, a finite
    /// number.
    pub fn check(&self) -> Result<(), AnnotationError> {
        if self.name.trim().is_empty() {
            return Err(AnnotationError::EmptyName);
        }
        if let AnnotationValue::Numeric(v) = self.value {
            if !v.is_finite() {
                return Err(AnnotationError::NonFiniteValue(v));
            }
        }
        Ok(())
    }
}

/// An annotation refused before it is queued. Delivery problems (no client, a full
/// queue, the service refusing it) are not errors here: like spans, they are counted in
/// the delivery report (`DeliveryReport::annotations`) and logged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnnotationError {
    /// The name is empty (or only whitespace).
    EmptyName,
    /// A numeric value that JSON cannot carry (NaN or infinite).
    NonFiniteValue(f64),
}

impl fmt::Display for AnnotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnnotationError::EmptyName => f.write_str(
                "annotation refused: the name is empty; give it a name such as \"helpfulness\"",
            ),
            AnnotationError::NonFiniteValue(v) => write!(
                f,
                "annotation refused: the numeric value {v} is not finite; send a finite number"
            ),
        }
    }
}

impl std::error::Error for AnnotationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(
            Annotation::new("  ", 1).check(),
            Err(AnnotationError::EmptyName)
        );
        let e = Annotation::new("x", f64::NAN).check().expect_err("nan");
        assert!(e.to_string().contains("not finite"), "{e}");
        assert!(Annotation::new("x", f64::INFINITY).check().is_err());
        assert!(Annotation::new("x", "").check().is_ok());
    }

    #[test]
    fn empty_comments_are_not_sent() {
        assert_eq!(Annotation::new("x", 1).comment("").comment_text(), None);
        assert_eq!(
            Annotation::new("x", 1).comment("ok").comment_text(),
            Some("ok")
        );
    }
}
