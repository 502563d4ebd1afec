//! The JSON writer of every outgoing message: serde's data model written as
//! compact JSON, byte for byte what `serde_json::to_string` writes, with a
//! string escaper that checks sixteen bytes at a time.
//!
//! Why not `serde_json::to_string`: its escaper looks every byte of every
//! string up in a table, one at a time; profiling the 16 KiB echo showed it
//! as the largest single cost of the server (a quarter of its CPU). Strings
//! are most of what large payloads carry, so this writer scans them a word
//! at a time and copies clean runs whole. Numbers and punctuation still go
//! through serde_json's own [`CompactFormatter`], and errors are
//! `serde_json::Error`s, so nothing else changes. `serde_json::value::RawValue`
//! is written verbatim, as serde_json does.
//!
//! Longer than 500 lines because serde's `Serializer` has thirty methods and
//! seven compound traits, all implemented here around one private writer
//! state; split, that state would have to be shared between files.

use serde::ser::{self, Impossible, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

type Error = serde_json::Error;
type Result<T = ()> = std::result::Result<T, Error>;

/// Serializes `value` as compact JSON.
///
/// It writes into a `String` directly (runs of the input strings, ASCII
/// punctuation and escapes), so the result needs no UTF-8 check at the end.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = String::with_capacity(128);
    value.serialize(&mut Json {
        out: &mut out,
        scratch: Vec::new(),
    })?;
    Ok(out)
}

/// Writes what serde_json's formatter writes for a number or literal (always
/// ASCII) through `scratch`.
fn formatted(
    out: &mut String,
    scratch: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> Result {
    scratch.clear();
    write(scratch).map_err(Error::io)?;
    out.push_str(std::str::from_utf8(scratch).map_err(|_| custom("non-ASCII number"))?);
    Ok(())
}

/// The name serde_json gives the struct a `RawValue` serializes as.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

fn custom(msg: &str) -> Error {
    <Error as ser::Error>::custom(msg)
}

/// Writes `s` as a JSON string: quoted, with `"`, `\` and control
/// characters escaped as serde_json escapes them.
fn write_str(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Room for the quotes, a few escapes and the closing brackets after it,
    // so a large string is not copied again by a reallocation at its end.
    out.reserve(bytes.len() + 32);
    out.push('"');
    let mut start = 0; // first byte not yet written
    let mut i = 0;
    while i < bytes.len() {
        if let Some(block) = bytes.get(i..i + 16)
            && is_clean(block.try_into().expect("16 bytes"))
        {
            i += 16;
            continue;
        }
        let b = bytes[i];
        // `i` is at an ASCII byte, so `start..i` ends on a char boundary.
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => {
                out.push_str(&s[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) as usize]));
                out.push(char::from(HEX[(b & 0xf) as usize]));
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[start..i]);
        out.push_str(escape);
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Whether no byte of `block` needs escaping (none is below 0x20, `"` or
/// `\`), eight bytes at a time in plain integer arithmetic (the crate
/// forbids `unsafe`, which SIMD intrinsics would need here).
#[inline(always)]
fn is_clean(block: &[u8; 16]) -> bool {
    const ONES: u64 = u64::MAX / 255;
    const HIGHS: u64 = ONES * 0x80;
    // Each term sets a byte's high bit when that byte is below 0x20, `"` or
    // `\` (a byte equal to c is a zero byte of w ^ c).
    let dirty = |w: u64| {
        let below_space = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let b = w ^ (ONES * u64::from(b'\\'));
        below_space | (q.wrapping_sub(ONES) & !q) | (b.wrapping_sub(ONES) & !b)
    };
    let lo = u64::from_le_bytes(block[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(block[8..].try_into().expect("8 bytes"));
    (dirty(lo) | dirty(hi)) & HIGHS == 0
}

struct Json<'a> {
    out: &'a mut String,
    /// Where numbers are formatted before they are appended.
    scratch: Vec<u8>,
}

macro_rules! ints {
    ($($method:ident $ty:ty => $write:ident,)*) => {$(
        fn $method(self, v: $ty) -> Result {
            formatted(self.out, &mut self.scratch, |w| CompactFormatter.$write(w, v))
        }
    )*};
}

impl<'a, 'b> ser::Serializer for &'a mut Json<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    ints! {
        serialize_i8 i8 => write_i8, serialize_i16 i16 => write_i16,
        serialize_i32 i32 => write_i32, serialize_i64 i64 => write_i64,
        serialize_i128 i128 => write_i128, serialize_u8 u8 => write_u8,
        serialize_u16 u16 => write_u16, serialize_u32 u32 => write_u32,
        serialize_u64 u64 => write_u64, serialize_u128 u128 => write_u128,
    }
    fn serialize_f32(self, v: f32) -> Result {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        formatted(self.out, &mut self.scratch, |w| {
            CompactFormatter.write_f32(w, v)
        })
    }
    fn serialize_f64(self, v: f64) -> Result {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        formatted(self.out, &mut self.scratch, |w| {
            CompactFormatter.write_f64(w, v)
        })
    }
    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        use ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(b)?;
        }
        seq.end()
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.out.push('{');
        write_str(self.out, variant);
        self.out.push(':');
        value.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'b>> {
        self.out.push('[');
        if len == Some(0) {
            self.out.push(']');
            return Ok(Compound::empty(self));
        }
        Ok(Compound::open(self))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, 'b>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>> {
        self.out.push('{');
        write_str(self.out, variant);
        self.out.push(':');
        let mut c = self.serialize_seq(Some(len))?;
        c.variant = true;
        Ok(c)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'b>> {
        self.out.push('{');
        if len == Some(0) {
            self.out.push('}');
            return Ok(Compound::empty(self));
        }
        Ok(Compound::open(self))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, 'b>> {
        if name == RAW_VALUE_TOKEN {
            let mut c = Compound::empty(self);
            c.raw = true;
            return Ok(c);
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>> {
        self.out.push('{');
        write_str(self.out, variant);
        self.out.push(':');
        let mut c = self.serialize_map(Some(len))?;
        c.variant = true;
        Ok(c)
    }
}

/// An array, object or raw value being written.
struct Compound<'a, 'b> {
    ser: &'a mut Json<'b>,
    /// Nothing written inside yet.
    first: bool,
    /// Already closed (it was empty).
    closed: bool,
    /// Inside `{"Variant": ..}`: one more `}` at the end.
    variant: bool,
    /// A `RawValue`: its one field is written verbatim.
    raw: bool,
}

impl<'a, 'b> Compound<'a, 'b> {
    fn open(ser: &'a mut Json<'b>) -> Self {
        Compound {
            ser,
            first: true,
            closed: false,
            variant: false,
            raw: false,
        }
    }
    fn empty(ser: &'a mut Json<'b>) -> Self {
        Compound {
            closed: true,
            ..Compound::open(ser)
        }
    }
    fn comma(&mut self) {
        if !self.first {
            self.ser.out.push(',');
        }
        self.first = false;
    }
    fn end_with(self, close: char) -> Result {
        if !self.closed && !self.raw {
            self.ser.out.push(close);
        }
        if self.variant {
            self.ser.out.push('}');
        }
        Ok(())
    }
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.comma();
        value.serialize(&mut *self.ser)
    }
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        if self.raw {
            return value.serialize(Verbatim(self.ser.out));
        }
        self.comma();
        write_str(self.ser.out, key);
        self.ser.out.push(':');
        value.serialize(&mut *self.ser)
    }
}

/// The compound traits of serde that differ only in their method's name
/// and in whether a key comes with each value: arrays take elements,
/// objects take keyed fields.
macro_rules! compound {
    ($($trait:ident::$method:ident => $close:literal,)*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            compound!(@method $method);
            fn end(self) -> Result {
                self.end_with($close)
            }
        }
    )*};
    (@method serialize_element) => {
        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
            self.element(value)
        }
    };
    (@method serialize_field) => {
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
            self.element(value)
        }
    };
    (@method serialize_keyed_field) => {
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result {
            self.field(key, value)
        }
    };
}

compound! {
    SerializeSeq::serialize_element => ']',
    SerializeTuple::serialize_element => ']',
    SerializeTupleStruct::serialize_field => ']',
    SerializeTupleVariant::serialize_field => ']',
    SerializeStruct::serialize_keyed_field => '}',
    SerializeStructVariant::serialize_keyed_field => '}',
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(MapKey(self.ser))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.ser.out.push(':');
        value.serialize(&mut *self.ser)
    }
    fn end(self) -> Result {
        self.end_with('}')
    }
}

/// The serializer of anything that only a string may be; every other
/// method fails with `$msg`. `$str` writes the string.
macro_rules! only_strings {
    ($ty:ty, $msg:literal, |$out:ident, $s:ident| $str:expr, { $($extra:tt)* }) => {
        impl ser::Serializer for $ty {
            type Ok = ();
            type Error = Error;
            type SerializeSeq = Impossible<(), Error>;
            type SerializeTuple = Impossible<(), Error>;
            type SerializeTupleStruct = Impossible<(), Error>;
            type SerializeTupleVariant = Impossible<(), Error>;
            type SerializeMap = Impossible<(), Error>;
            type SerializeStruct = Impossible<(), Error>;
            type SerializeStructVariant = Impossible<(), Error>;

            fn serialize_str(self, $s: &str) -> Result {
                let $out = self.0;
                $str;
                Ok(())
            }
            $($extra)*
            fn serialize_f32(self, _: f32) -> Result { Err(custom($msg)) }
            fn serialize_f64(self, _: f64) -> Result { Err(custom($msg)) }
            fn serialize_bytes(self, _: &[u8]) -> Result { Err(custom($msg)) }
            fn serialize_none(self) -> Result { Err(custom($msg)) }
            fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result { Err(custom($msg)) }
            fn serialize_unit(self) -> Result { Err(custom($msg)) }
            fn serialize_unit_struct(self, _: &'static str) -> Result { Err(custom($msg)) }
            fn serialize_newtype_variant<T: Serialize + ?Sized>(
                self, _: &'static str, _: u32, _: &'static str, _: &T,
            ) -> Result { Err(custom($msg)) }
            fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> { Err(custom($msg)) }
            fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> { Err(custom($msg)) }
            fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct> {
                Err(custom($msg))
            }
            fn serialize_tuple_variant(
                self, _: &'static str, _: u32, _: &'static str, _: usize,
            ) -> Result<Self::SerializeTupleVariant> { Err(custom($msg)) }
            fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> { Err(custom($msg)) }
            fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
                Err(custom($msg))
            }
            fn serialize_struct_variant(
                self, _: &'static str, _: u32, _: &'static str, _: usize,
            ) -> Result<Self::SerializeStructVariant> { Err(custom($msg)) }
        }
    };
}

/// A `RawValue`'s text, written as it is.
struct Verbatim<'a>(&'a mut String);

macro_rules! refuse_scalars {
    ($msg:literal; $($method:ident $ty:ty,)*) => {$(
        fn $method(self, _: $ty) -> Result { Err(custom($msg)) }
    )*};
}

only_strings!(
    Verbatim<'_>,
    "a raw JSON value must be a string",
    |out, s| out.push_str(s),
    {
        refuse_scalars! { "a raw JSON value must be a string";
            serialize_bool bool, serialize_i8 i8, serialize_i16 i16, serialize_i32 i32,
            serialize_i64 i64, serialize_i128 i128, serialize_u8 u8, serialize_u16 u16,
            serialize_u32 u32, serialize_u64 u64, serialize_u128 u128, serialize_char char,
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
            Err(custom("a raw JSON value must be a string"))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
            Err(custom("a raw JSON value must be a string"))
        }
    }
);

/// An object key: strings, and what serde_json quotes into one (integers,
/// `bool`, `char`, unit variants, newtype structs of those).
struct MapKey<'a, 'b>(&'a mut Json<'b>);

macro_rules! quoted_keys {
    ($($method:ident $ty:ty => $write:ident,)*) => {$(
        fn $method(self, v: $ty) -> Result {
            let json = self.0;
            json.out.push('"');
            formatted(json.out, &mut json.scratch, |w| CompactFormatter.$write(w, v))?;
            json.out.push('"');
            Ok(())
        }
    )*};
}

only_strings!(
    MapKey<'_, '_>,
    "key must be a string",
    |json, s| write_str(json.out, s),
    {
        quoted_keys! {
            serialize_bool bool => write_bool, serialize_i8 i8 => write_i8,
            serialize_i16 i16 => write_i16, serialize_i32 i32 => write_i32,
            serialize_i64 i64 => write_i64, serialize_i128 i128 => write_i128,
            serialize_u8 u8 => write_u8, serialize_u16 u16 => write_u16,
            serialize_u32 u32 => write_u32, serialize_u64 u64 => write_u64,
            serialize_u128 u128 => write_u128,
        }
        fn serialize_char(self, v: char) -> Result {
            write_str(self.0.out, v.encode_utf8(&mut [0; 4]));
            Ok(())
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
            write_str(self.0.out, variant);
            Ok(())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result {
            value.serialize(self)
        }
    }
);

#[cfg(test)]
mod tests;
