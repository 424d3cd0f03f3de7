//! Attribute templates whose policy the token enforces (DESIGN 6): what a wrapping key may
//! unwrap into (its CKA_UNWRAP_TEMPLATE), and templates that carry key material, which is
//! wiped when they are dropped.
//!
//! Every key a wrapping key unwraps gets [`unwrapped_key_policy`]: a sensitive secret key
//! that can never be extracted, wrap, derive, be copied or be modified, and that works
//! only with CKM_AES_GCM (a CMK), CKM_AES_KEY_WRAP_PAD (the temporary key of
//! RSA_AES_KEY_WRAP) and the two HMAC mechanisms that measure a key's length (see
//! `measure`). The wrapping key carries that policy as CKA_UNWRAP_TEMPLATE, so the token
//! refuses any other template in C_UnwrapKey, whoever calls it with the PIN.
//!
//! SoftHSM2 2.6.1 does not merge CKA_UNWRAP_TEMPLATE into the caller's template: it
//! requires each of its attributes to be in the caller's template with the same bytes, and
//! refuses the call otherwise with CKR_TEMPLATE_INCONSISTENT. So the templates this crate
//! unwraps into carry the policy themselves ([`Template::under_unwrap_policy`]); a token
//! that merges it instead sees the same values twice over.
//!
//! cryptoki 0.12 has no attribute variant for CKA_UNWRAP_TEMPLATE, whose value is an array
//! of CK_ATTRIBUTE (each pointing at its own value), and this workspace forbids unsafe
//! code. So the array is built here as bytes: each entry is its type, the address of a value
//! the [`Template`] owns on the heap, and the value's length, laid out as CK_ATTRIBUTE is
//! (CK_ULONG, pointer, CK_ULONG: no padding on any target cryptoki-sys supports, since
//! CK_ULONG is pointer-sized on Unix and the Windows structs are packed), and passed as an
//! `Attribute::VendorDefined` of that type (cryptoki hands its number to the token as it
//! is, vendor range or not). The values live as long as the template, which lends its
//! attributes out only by reference, so every pointer is valid while the token reads it.
//! cryptoki cannot read the attribute back (it refuses the type in C_GetAttributeValue's
//! answer), so the tests show the template by what the token refuses.

use std::ffi::c_ulong;

use cryptoki::mechanism::MechanismType;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use zeroize::Zeroize;

/// CKA_UNWRAP_TEMPLATE: CKF_ARRAY_ATTRIBUTE (0x40000000) | 0x212.
const CKA_UNWRAP_TEMPLATE: c_ulong = 0x4000_0212;

/// The mechanisms a key a wrapping key unwraps may be used with: a CMK seals and opens with
/// CKM_AES_GCM, the temporary key of RSA_AES_KEY_WRAP unwraps with CKM_AES_KEY_WRAP_PAD, and
/// a generic-secret copy of either measures its length with HMAC. None of them decrypts a
/// raw block (CKM_AES_ECB, CKM_AES_CBC), which would let a PIN holder run the AES-KWP
/// unwrap of a temporary key on the host.
const UNWRAPPED_KEY_MECHANISMS: [MechanismType; 4] = [
    MechanismType::AES_GCM,
    MechanismType::AES_KEY_WRAP_PAD,
    MechanismType::SHA256_HMAC,
    MechanismType::SHA1_HMAC,
];

/// One attribute of the unwrapped-key policy, as an attribute and as CK_ATTRIBUTE value
/// bytes, from the same definition.
#[derive(Clone, Copy)]
enum Forced {
    Class(ObjectClass),
    Flag(fn(bool) -> Attribute, bool),
    Mechanisms(&'static [MechanismType]),
}

/// The policy, in template order: CKA_MODIFIABLE last, because SoftHSM2 refuses every
/// attribute of a C_UnwrapKey template that comes after CKA_MODIFIABLE false (with
/// CKR_ATTRIBUTE_READ_ONLY).
const UNWRAPPED_KEY_POLICY: [Forced; 8] = [
    Forced::Class(ObjectClass::SECRET_KEY),
    Forced::Flag(Attribute::Sensitive, true),
    Forced::Flag(Attribute::Extractable, false),
    Forced::Flag(Attribute::Wrap, false),
    Forced::Flag(Attribute::Derive, false),
    Forced::Mechanisms(&UNWRAPPED_KEY_MECHANISMS),
    Forced::Flag(Attribute::Copyable, false),
    Forced::Flag(Attribute::Modifiable, false),
];

impl Forced {
    fn attribute(self) -> Attribute {
        match self {
            Self::Class(class) => Attribute::Class(class),
            Self::Flag(attribute, value) => attribute(value),
            Self::Mechanisms(mechanisms) => Attribute::AllowedMechanisms(mechanisms.to_vec()),
        }
    }

    /// The value as the token reads it: a CK_BBOOL, a CK_OBJECT_CLASS, or an array of
    /// CK_MECHANISM_TYPE.
    fn value(self) -> Box<[u8]> {
        match self {
            Self::Class(class) => c_ulong::from(class).to_ne_bytes().into(),
            Self::Flag(_, value) => Box::new([u8::from(value)]),
            Self::Mechanisms(mechanisms) => mechanisms
                .iter()
                .flat_map(|mechanism| c_ulong::from(*mechanism).to_ne_bytes())
                .collect(),
        }
    }
}

/// The attributes every key a wrapping key unwraps must have (module docs), CKA_MODIFIABLE
/// last.
#[must_use]
pub fn unwrapped_key_policy() -> Vec<Attribute> {
    UNWRAPPED_KEY_POLICY.map(Forced::attribute).into()
}

/// An attribute template for one PKCS#11 call. It owns the values its CKA_UNWRAP_TEMPLATE
/// points at, and wipes the key material it carries (CKA_VALUE, RSA private components)
/// when dropped, whether the call succeeded or not.
pub(crate) struct Template {
    attributes: Vec<Attribute>,
    /// The values of the CKA_UNWRAP_TEMPLATE entries; never touched after they are made, so
    /// their heap addresses stay valid as long as the template.
    unwrap_template_values: Vec<Box<[u8]>>,
}

impl Template {
    pub(crate) fn new(attributes: Vec<Attribute>) -> Self {
        let mut template = Self {
            attributes,
            unwrap_template_values: Vec::new(),
        };
        template.modifiable_last();
        template
    }

    /// The attributes, to pass to a PKCS#11 call while this template lives.
    pub(crate) fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// Adds `attributes` (replacing none: the caller adds only new ones).
    pub(crate) fn with(mut self, attributes: impl IntoIterator<Item = Attribute>) -> Self {
        self.attributes.extend(attributes);
        self.modifiable_last();
        self
    }

    /// Puts the unwrapped-key policy on this object: for templates of C_UnwrapKey with a
    /// wrapping key, whose CKA_UNWRAP_TEMPLATE requires it. The policy's attributes replace
    /// the template's own of the same types (SoftHSM2 refuses a type given twice).
    pub(crate) fn under_unwrap_policy(mut self) -> Self {
        let policy = unwrapped_key_policy();
        let types: Vec<AttributeType> = policy.iter().map(Attribute::attribute_type).collect();
        self.attributes
            .retain(|attribute| !types.contains(&attribute.attribute_type()));
        self.with(policy)
    }

    /// Lets the object this template makes unwrap only into keys under the unwrapped-key
    /// policy: sets CKA_UNWRAP_TEMPLATE to it.
    pub(crate) fn unwrapping_under_policy(mut self) -> Self {
        let mut entries = Vec::new();
        for forced in UNWRAPPED_KEY_POLICY {
            let value = forced.value();
            entries.extend(c_ulong::from(forced.attribute().attribute_type()).to_ne_bytes());
            entries.extend(value.as_ptr().expose_provenance().to_ne_bytes());
            // A few bytes: never truncated.
            entries.extend((value.len() as c_ulong).to_ne_bytes());
            self.unwrap_template_values.push(value);
        }
        let unwrap_template = AttributeType::VendorDefined(CKA_UNWRAP_TEMPLATE);
        self.with([Attribute::VendorDefined((unwrap_template, entries))])
    }

    /// Moves CKA_MODIFIABLE to the end (see [`UNWRAPPED_KEY_POLICY`]).
    fn modifiable_last(&mut self) {
        let (mut rest, modifiable): (Vec<_>, Vec<_>) = std::mem::take(&mut self.attributes)
            .into_iter()
            .partition(|attribute| !matches!(attribute, Attribute::Modifiable(_)));
        rest.extend(modifiable);
        self.attributes = rest;
    }

    /// Wipes the key material the attributes carry.
    fn wipe(&mut self) {
        for attribute in &mut self.attributes {
            match attribute {
                Attribute::Value(secret)
                | Attribute::PrivateExponent(secret)
                | Attribute::Prime1(secret)
                | Attribute::Prime2(secret)
                | Attribute::Exponent1(secret)
                | Attribute::Exponent2(secret)
                | Attribute::Coefficient(secret) => secret.zeroize(),
                _ => {}
            }
        }
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_replaces_a_templates_own_attributes_and_ends_with_modifiable() {
        let template = Template::new(vec![
            Attribute::Modifiable(true),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
        ])
        .under_unwrap_policy();
        let attributes = template.attributes();
        assert_eq!(attributes.first(), Some(&Attribute::Encrypt(true)));
        assert_eq!(attributes.last(), Some(&Attribute::Modifiable(false)));
        assert_eq!(
            attributes
                .iter()
                .filter(|attribute| attribute.attribute_type() == AttributeType::Extractable)
                .collect::<Vec<_>>(),
            [&Attribute::Extractable(false)]
        );
        assert_eq!(attributes.len(), 1 + UNWRAPPED_KEY_POLICY.len());
    }

    #[test]
    fn the_unwrap_template_is_an_array_of_ck_attribute_pointing_at_owned_values() {
        let template = Template::new(vec![Attribute::Modifiable(false)]).unwrapping_under_policy();
        let [
            Attribute::VendorDefined((kind, entries)),
            Attribute::Modifiable(false),
        ] = template.attributes()
        else {
            panic!("unexpected template");
        };
        assert_eq!(*kind, AttributeType::VendorDefined(CKA_UNWRAP_TEMPLATE));
        let word = size_of::<c_ulong>();
        let entry = 2 * word + size_of::<usize>();
        assert_eq!(entries.len(), UNWRAPPED_KEY_POLICY.len() * entry);
        for ((chunk, value), forced) in entries
            .chunks_exact(entry)
            .zip(&template.unwrap_template_values)
            .zip(UNWRAPPED_KEY_POLICY)
        {
            let (kind, rest) = chunk.split_at(word);
            let (address, len) = rest.split_at(size_of::<usize>());
            assert_eq!(
                c_ulong::from_ne_bytes(kind.try_into().unwrap()),
                c_ulong::from(forced.attribute().attribute_type())
            );
            assert_eq!(
                usize::from_ne_bytes(address.try_into().unwrap()),
                value.as_ptr().addr()
            );
            assert_eq!(
                c_ulong::from_ne_bytes(len.try_into().unwrap()) as usize,
                value.len()
            );
            assert_eq!(*value, forced.value());
        }
    }

    #[test]
    fn key_material_in_a_template_is_wiped() {
        let mut template = Template::new(vec![
            Attribute::Value(vec![7; 32]),
            Attribute::Prime1(vec![3; 128]),
            Attribute::Modulus(vec![5; 256]),
        ]);
        template.wipe();
        assert!(matches!(
            template.attributes(),
            [Attribute::Value(value), Attribute::Prime1(prime), Attribute::Modulus(modulus)]
                if value.is_empty() && prime.is_empty() && modulus.len() == 256
        ));
    }
}
