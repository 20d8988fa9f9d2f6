//! Reading a live JavaScript value through N-API as the core's [`JsonView`].
//!
//! [`Reader`] is one decode's shared state (the env, the first error met, the property keys
//! made so far); [`NodeView`] is one value seen through it, valid during that native call.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ptr;

use lanepool::event::{JsonKind, JsonNumber, JsonView};
use napi::{sys, Env, Status};

/// What one decode shares: the env, the first error met, and the property keys made so far
/// (each key is created once per decode, not once per record).
pub struct Reader {
    env: sys::napi_env,
    failure: RefCell<Option<napi::Error>>,
    keys: RefCell<Vec<(String, sys::napi_value)>>,
}

impl Reader {
    pub fn new(env: &Env) -> Self {
        Reader {
            env: env.raw(),
            failure: RefCell::new(None),
            keys: RefCell::new(Vec::with_capacity(8)),
        }
    }

    /// The first error met reading the value (a getter or proxy that threw), if any.
    pub fn into_failure(self) -> Option<napi::Error> {
        self.failure.into_inner()
    }

    /// `Some(())` when the call succeeded; else keeps the first error (a getter or proxy that
    /// threw leaves its exception pending, and it is rethrown as is).
    fn check(&self, status: sys::napi_status) -> Option<()> {
        if status == sys::Status::napi_ok {
            return Some(());
        }
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(napi::Error::new(
                Status::from(status),
                "lanepool: reading the event failed".to_owned(),
            ));
        }
        None
    }

    fn key(&self, name: &str) -> Option<sys::napi_value> {
        if let Some((_, key)) = self.keys.borrow().iter().find(|(n, _)| n == name) {
            return Some(*key);
        }
        let mut key = ptr::null_mut();
        // SAFETY: a valid env and a UTF-8 buffer of the given length.
        self.check(unsafe {
            sys::napi_create_string_utf8(self.env, name.as_ptr().cast(), name.len(), &mut key)
        })?;
        self.keys.borrow_mut().push((name.to_owned(), key));
        Some(key)
    }

    pub fn view(&self, value: sys::napi_value) -> Option<NodeView<'_>> {
        let mut ty = 0;
        // SAFETY: a valid env and value for the duration of the native call.
        self.check(unsafe { sys::napi_typeof(self.env, value, &mut ty) })?;
        let mut array = false;
        if ty == sys::ValueType::napi_object {
            // SAFETY: as above.
            self.check(unsafe { sys::napi_is_array(self.env, value, &mut array) })?;
        }
        Some(NodeView {
            reader: self,
            value,
            ty,
            array,
        })
    }
}

/// A JavaScript value seen through the core's [`JsonView`]; valid during one native call.
pub struct NodeView<'a> {
    reader: &'a Reader,
    value: sys::napi_value,
    ty: sys::napi_valuetype,
    array: bool,
}

impl NodeView<'_> {
    /// The value itself (valid during this native call).
    pub fn raw(&self) -> sys::napi_value {
        self.value
    }

    fn is_object(&self) -> bool {
        self.ty == sys::ValueType::napi_object && !self.array
    }

    fn get(&self, key: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: an object value and a key created in this call.
        self.reader
            .check(unsafe { sys::napi_get_property(self.reader.env, self.value, key, &mut out) })?;
        Some(out)
    }

    fn string(&self, value: sys::napi_value) -> Option<String> {
        let env = self.reader.env;
        // Most identifiers and keys fit a small buffer: one call instead of two.
        let mut small = [0u8; 128];
        let mut written = 0usize;
        // SAFETY: a string value and a buffer of the given size.
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                small.as_mut_ptr().cast(),
                small.len(),
                &mut written,
            )
        })?;
        // Unused room for a whole character (up to 4 bytes): the string ended.
        if written + 4 < small.len() {
            return String::from_utf8(small[..written].to_vec()).ok();
        }
        let mut len = 0usize;
        // SAFETY: as above; first the length, then the bytes into a buffer of len + 1.
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len)
        })?;
        let mut buf = vec![0u8; len + 1];
        self.reader.check(unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                buf.as_mut_ptr().cast(),
                len + 1,
                &mut written,
            )
        })?;
        buf.truncate(written);
        String::from_utf8(buf).ok()
    }
}

impl JsonView for NodeView<'_> {
    fn kind(&self) -> JsonKind {
        match self.ty {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => JsonKind::Null,
            sys::ValueType::napi_boolean => JsonKind::Bool,
            sys::ValueType::napi_number => JsonKind::Number,
            sys::ValueType::napi_string => JsonKind::String,
            sys::ValueType::napi_object if self.array => JsonKind::Array,
            sys::ValueType::napi_object => JsonKind::Object,
            _ => JsonKind::Other,
        }
    }

    fn type_name(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self.ty {
            sys::ValueType::napi_undefined => "undefined",
            sys::ValueType::napi_null => "null",
            sys::ValueType::napi_boolean => "boolean",
            sys::ValueType::napi_number => "number",
            sys::ValueType::napi_string => "string",
            sys::ValueType::napi_object if self.array => "array",
            sys::ValueType::napi_object => "object",
            sys::ValueType::napi_function => "function",
            sys::ValueType::napi_bigint => "bigint",
            sys::ValueType::napi_symbol => "symbol",
            _ => "non-JSON value",
        })
    }

    /// `undefined` is an absent member, as in JSON.
    fn member(&self, key: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        let value = self.get(self.reader.key(key)?)?;
        let view = self.reader.view(value)?;
        (view.ty != sys::ValueType::napi_undefined).then_some(view)
    }

    fn array_len(&self) -> Option<usize> {
        if !self.array {
            return None;
        }
        let mut len = 0u32;
        // SAFETY: an array value.
        self.reader
            .check(unsafe { sys::napi_get_array_length(self.reader.env, self.value, &mut len) })?;
        Some(len as usize)
    }

    fn item(&self, index: usize) -> Option<Self> {
        if !self.array {
            return None;
        }
        let mut out = ptr::null_mut();
        // SAFETY: an array value.
        self.reader.check(unsafe {
            sys::napi_get_element(self.reader.env, self.value, index as u32, &mut out)
        })?;
        self.reader.view(out)
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        if self.ty != sys::ValueType::napi_string {
            return None;
        }
        self.string(self.value).map(Cow::Owned)
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        if !self.is_object() {
            return None;
        }
        let env = self.reader.env;
        let mut names = ptr::null_mut();
        // SAFETY: an object value; own, enumerable, string keys (like `Object.keys`).
        self.reader.check(unsafe {
            sys::napi_get_all_property_names(
                env,
                self.value,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        })?;
        let names = self.reader.view(names)?;
        let len = names.array_len()?;
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            let name = names.item(i)?;
            let text = name.text()?.into_owned();
            let value = self.reader.view(self.get(name.value)?)?;
            out.push((text, value));
        }
        Some(out)
    }

    /// A JavaScript number is a double (`JsonNumber::Float`); a bigint is no JSON number.
    fn number(&self) -> Option<JsonNumber> {
        if self.ty != sys::ValueType::napi_number {
            return None;
        }
        let mut x = 0f64;
        // SAFETY: a number value.
        self.reader
            .check(unsafe { sys::napi_get_value_double(self.reader.env, self.value, &mut x) })?;
        Some(JsonNumber::Float(x))
    }
}
