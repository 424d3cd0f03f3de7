//! A deserializer adapter whose errors can never carry a value from the input.
//!
//! serde's error constructors write the offending value into the message (`invalid type:
//! string "…"`, `invalid value: integer `…``, `unknown variant `…``), and a request value
//! may be a secret. [`Guarded`] wraps a self-describing deserializer (serde_json) and gives
//! every visitor, map, sequence and seed below it an error type of its own, [`Refusal`],
//! whose constructors keep only what the schema says: the kind of value found (never the
//! value), what was expected (written by the type being deserialized, never by the input),
//! lengths, and field names (a request's own key only when [`shown_key`] allows it).
//!
//! Every JSON value is read through `deserialize_any`, so the inner deserializer never
//! raises a type error of its own (those carry values); it only calls the visitor. Its
//! remaining errors are syntax errors, whose fixed texts [`Refusal::foreign`] recognizes;
//! any other text is not shown.

use core::cell::Cell;
use core::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

/// What [`Guarded::deserialize_struct`] expects: the text a request body that is a string,
/// an array or a number is refused with.
pub(super) const A_JSON_OBJECT: &str = "a JSON object";

/// Why the input was refused, with nothing in it that came from the input's values.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Malformed JSON: one of serde_json's fixed syntax texts and where it is.
    Syntax(String),
    /// A value of the wrong JSON type.
    WrongType {
        found: &'static str,
        expected: String,
    },
    /// A value of the right type outside what the field accepts.
    WrongValue {
        found: &'static str,
        expected: String,
    },
    /// A sequence of the wrong length.
    WrongLength { len: usize, expected: String },
    /// A key the type does not have: its name when [`shown_key`] allows, and the names the
    /// type has.
    UnknownField {
        name: Option<String>,
        expected: &'static [&'static str],
    },
    /// An enum variant the type does not have (the variant is not shown).
    UnknownVariant { expected: &'static [&'static str] },
    /// A mandatory field is absent.
    MissingField(&'static str),
    /// A field is given twice.
    DuplicateField(&'static str),
    /// An untagged enum matched none of its forms (serde's message names the enum only).
    NoVariant(String),
    /// Any other error, whose text is not shown: it could have been written from a value.
    Unspecified,
}

/// A key longer than this is never shown: no field name is near it, and a message must not
/// be a way to flood a log.
const MAX_SHOWN_KEY: usize = 40;

/// A request key, when it may be shown in a message: at most 40 bytes of ASCII letters,
/// digits and `_`, not all hex digits. Keys are how typos are caught (`with_plaintext` for
/// `with_plain_text`), so a key that looks like a field name is echoed; a long key, one
/// with any other character (a control character, a quote), or one of hex digits only (the
/// form DEKs and key material take) may be a value put where a key goes, and is not.
pub(super) fn shown_key(key: &str) -> Option<&str> {
    let name_like = !key.is_empty()
        && key.len() <= MAX_SHOWN_KEY
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !key.bytes().all(|b| b.is_ascii_hexdigit());
    name_like.then_some(key)
}

/// serde_json's syntax error texts: fixed strings, none written from the input.
const SYNTAX_TEXTS: &[&str] = &[
    "EOF while parsing a list",
    "EOF while parsing an object",
    "EOF while parsing a string",
    "EOF while parsing a value",
    "expected `:`",
    "expected `,` or `]`",
    "expected `,` or `}`",
    "expected ident",
    "expected value",
    "expected `\"`",
    "invalid escape",
    "invalid number",
    "number out of range",
    "invalid unicode code point",
    "control character (\\u0000-\\u001F) found while parsing a string",
    "key must be a string",
    "invalid value: expected key to be a number in quotes",
    "float key must be finite (got NaN or +/-inf)",
    "lone leading surrogate in hex escape",
    "trailing comma",
    "trailing characters",
    "unexpected end of hex escape",
    "recursion limit exceeded",
];

/// serde's message for an untagged enum that matched none of its forms, before the enum's
/// name.
const NO_VARIANT: &str = "data did not match any variant of untagged enum ";

impl Refusal {
    /// An error of the inner deserializer: shown only when it is one of serde_json's fixed
    /// syntax texts (with its position); anything else could carry a value and is not.
    pub(super) fn foreign(error: &impl fmt::Display) -> Self {
        let text = error.to_string();
        let (code, position) = split_position(&text);
        if SYNTAX_TEXTS.contains(&code) {
            Self::Syntax(format!("{code}{position}"))
        } else {
            Self::Unspecified
        }
    }
}

/// `"<code> at line L column C"` split into the code and `" at line L column C"`, the
/// position kept only when it is made of digits; the text whole and `""` otherwise.
fn split_position(text: &str) -> (&str, &str) {
    let Some(at) = text.rfind(" at line ") else {
        return (text, "");
    };
    let (code, position) = text.split_at(at);
    let digits = position
        .trim_start_matches(" at line ")
        .split_once(" column ")
        .is_some_and(|(line, column)| {
            [line, column]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if digits { (code, position) } else { (text, "") }
}

/// The kind of an unexpected value, without the value.
fn kind(unexpected: &Unexpected<'_>) -> &'static str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a floating-point number",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "a JSON array",
        Unexpected::Map => A_JSON_OBJECT,
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant => "a unit variant",
        Unexpected::NewtypeVariant => "a newtype variant",
        Unexpected::TupleVariant => "a tuple variant",
        Unexpected::StructVariant => "a struct variant",
        Unexpected::Other(_) => "a value",
    }
}

/// serde's way of listing names: `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
struct OneOf(&'static [&'static str]);

impl fmt::Display for OneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => Ok(()),
            [only] => write!(f, "`{only}`"),
            [first, second] => write!(f, "`{first}` or `{second}`"),
            [first, rest @ ..] => {
                write!(f, "one of `{first}`")?;
                rest.iter().try_for_each(|name| write!(f, ", `{name}`"))
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(text) => f.write_str(text),
            Self::WrongType { found, expected } => {
                write!(f, "invalid type: {found}, expected {expected}")
            }
            Self::WrongValue { found, expected } => {
                write!(f, "invalid value: {found}, expected {expected}")
            }
            Self::WrongLength { len, expected } => {
                write!(f, "invalid length {len}, expected {expected}")
            }
            Self::UnknownField { name, expected } => {
                match name {
                    Some(name) => write!(f, "unknown field `{name}`")?,
                    None => {
                        f.write_str("unknown field (its name is not shown: not a field name)")?
                    }
                }
                if expected.is_empty() {
                    f.write_str(", there are no fields")
                } else {
                    write!(f, ", expected {}", OneOf(expected))
                }
            }
            Self::UnknownVariant { expected } => {
                write!(f, "unknown variant, expected {}", OneOf(expected))
            }
            Self::MissingField(field) => write!(f, "missing field `{field}`"),
            Self::DuplicateField(field) => write!(f, "duplicate field `{field}`"),
            Self::NoVariant(name) => write!(f, "{NO_VARIANT}{name}"),
            Self::Unspecified => f.write_str("invalid value"),
        }
    }
}

impl std::error::Error for Refusal {}

impl de::Error for Refusal {
    fn custom<T: fmt::Display>(message: T) -> Self {
        // Deserialize impls write these; only serde's untagged-enum text, naming a type, is
        // known to carry nothing from the input.
        let message = message.to_string();
        match message.strip_prefix(NO_VARIANT) {
            Some(name)
                if !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Self::NoVariant(name.to_owned())
            }
            _ => Self::Unspecified,
        }
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::WrongType {
            found: kind(&unexpected),
            expected: expected.to_string(),
        }
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::WrongValue {
            found: kind(&unexpected),
            expected: expected.to_string(),
        }
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        Self::WrongLength {
            len,
            expected: expected.to_string(),
        }
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::UnknownVariant { expected }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::UnknownField {
            name: shown_key(field).map(str::to_owned),
            expected,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self::MissingField(field)
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::DuplicateField(field)
    }
}

/// Carries a [`Refusal`] across the inner deserializer, whose error type is its own: the
/// refusal is kept here while a placeholder error of the inner type travels up through it,
/// and taken back where the inner deserializer returns.
#[derive(Default)]
pub(super) struct Slot(Cell<Option<Refusal>>);

impl Slot {
    /// `result` for the inner deserializer: a refusal is kept, a placeholder returned.
    fn lift<T, E: de::Error>(&self, result: Result<T, Refusal>) -> Result<T, E> {
        result.map_err(|refusal| {
            self.0.set(Some(refusal));
            // Never shown: `take` gives the refusal back in its place.
            E::custom("refused")
        })
    }

    /// The refusal behind an error of the inner deserializer: the one kept by `lift`, or
    /// the inner error itself, when it is a syntax error.
    fn take(&self, error: &impl fmt::Display) -> Refusal {
        self.0.take().unwrap_or_else(|| Refusal::foreign(error))
    }
}

/// The adapter: `inner`, with every value read through `deserialize_any` and every error
/// a [`Refusal`].
pub(super) struct Guarded<'s, D> {
    inner: D,
    slot: &'s Slot,
}

impl<'s, D> Guarded<'s, D> {
    pub(super) fn new(inner: D, slot: &'s Slot) -> Self {
        Self { inner, slot }
    }
}

/// A visitor, seed, map, sequence or enum of the inner deserializer, wrapped.
struct Wrap<'s, X> {
    inner: X,
    slot: &'s Slot,
}

impl<'s, X> Wrap<'s, X> {
    fn new(inner: X, slot: &'s Slot) -> Self {
        Self { inner, slot }
    }
}

/// A struct's visitor that refuses everything but a JSON object: serde's derived visitors
/// also take a JSON array as the fields in order, which would bypass the check for
/// unknown fields.
struct ObjectOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ObjectOnly<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(A_JSON_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map)
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<'_, D> {
    type Error = Refusal;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .deserialize_any(Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .deserialize_option(Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .deserialize_newtype_struct(name, Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refusal> {
        self.deserialize_any(ObjectOnly(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .deserialize_enum(name, variants, Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .deserialize_ignored_any(Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// Visitor methods that take a plain value: called with the inner error type, they call the
/// wrapped visitor with [`Refusal`].
macro_rules! forward_values {
    ($($method:ident($ty:ty),)*) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<Self::Value, E> {
                self.slot.lift(self.inner.$method(value))
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_values! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char), visit_str(&str),
        visit_borrowed_str(&'de str), visit_string(String), visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.slot.lift(self.inner.visit_none())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.slot.lift(self.inner.visit_unit())
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        let slot = self.slot;
        slot.lift(self.inner.visit_some(Guarded::new(inner, slot)))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        let slot = self.slot;
        slot.lift(self.inner.visit_newtype_struct(Guarded::new(inner, slot)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let slot = self.slot;
        slot.lift(self.inner.visit_seq(Wrap::new(seq, slot)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let slot = self.slot;
        slot.lift(self.inner.visit_map(Wrap::new(map, slot)))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let slot = self.slot;
        slot.lift(self.inner.visit_enum(Wrap::new(data, slot)))
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<T::Value, D::Error> {
        let slot = self.slot;
        slot.lift(self.inner.deserialize(Guarded::new(inner, slot)))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<'_, A> {
    type Error = Refusal;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Refusal> {
        let slot = self.slot;
        self.inner
            .next_element_seed(Wrap::new(seed, slot))
            .map_err(|error| slot.take(&error))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<'_, A> {
    type Error = Refusal;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Refusal> {
        let slot = self.slot;
        self.inner
            .next_key_seed(Wrap::new(seed, slot))
            .map_err(|error| slot.take(&error))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .next_value_seed(Wrap::new(seed, slot))
            .map_err(|error| slot.take(&error))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 's, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<'s, A> {
    type Error = Refusal;
    type Variant = Wrap<'s, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Refusal> {
        let slot = self.slot;
        self.inner
            .variant_seed(Wrap::new(seed, slot))
            .map(|(value, variant)| (value, Wrap::new(variant, slot)))
            .map_err(|error| slot.take(&error))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<'_, A> {
    type Error = Refusal;

    fn unit_variant(self) -> Result<(), Refusal> {
        let slot = self.slot;
        self.inner.unit_variant().map_err(|error| slot.take(&error))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .newtype_variant_seed(Wrap::new(seed, slot))
            .map_err(|error| slot.take(&error))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .tuple_variant(len, Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refusal> {
        let slot = self.slot;
        self.inner
            .struct_variant(fields, Wrap::new(visitor, slot))
            .map_err(|error| slot.take(&error))
    }
}
