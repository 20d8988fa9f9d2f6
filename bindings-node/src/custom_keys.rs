//! Custom lane keys (`groupKey`): after the core validated the event, [`Plan::set_keys_from`]
//! calls the key function on each record from here, inside the core's
//! [`BatchPlan::with_keys`], so the core's one rule ([`KeyValue::into_lane_key`]) judges each
//! value as it comes and the first key error stops the calls, as in every face. This file only
//! says what each JavaScript value is, as a [`KeyValue`], without judging it.

use std::ptr;

use lanepool::event::{KeyError, KeyValue};
use napi::{
    sys, Env, JsBigInt, JsFunction, JsNumber, JsObject, JsUnknown, NapiRaw, NapiValue, Result,
    Status, ValueType,
};
use napi_derive::napi;

use crate::plan::{EventErrorInfo, Plan};
use crate::used;

/// A value a key function returned, as the core's [`KeyValue`]: a string as `Str`, a number as
/// `Float`, a bigint as `Int` (or, beyond `i128`, `BigInt` with its decimal text), `null` and
/// `undefined` as `None`, anything else as `Invalid` with its `typeof`.
fn key_value(value: JsUnknown) -> Result<KeyValue> {
    Ok(match value.get_type()? {
        ValueType::String => KeyValue::Str(value.coerce_to_string()?.into_utf8()?.into_owned()?),
        ValueType::Number => {
            // SAFETY: the value is a number.
            let number: JsNumber = unsafe { value.cast() };
            KeyValue::Float(number.get_double()?)
        }
        ValueType::BigInt => {
            // SAFETY: the value is a bigint.
            let mut big: JsBigInt = unsafe { value.cast() };
            match bigint_as_i128(&mut big)? {
                Some(n) => KeyValue::Int(n),
                // ToString of a bigint primitive: its decimal text (no user code runs).
                None => KeyValue::BigInt(value.coerce_to_string()?.into_utf8()?.into_owned()?),
            }
        }
        ValueType::Null | ValueType::Undefined => KeyValue::None,
        ValueType::Boolean => KeyValue::Invalid("boolean".into()),
        ValueType::Symbol => KeyValue::Invalid("symbol".into()),
        ValueType::Function => KeyValue::Invalid("function".into()),
        // `typeof` of every other value (an object, an array, an external) is "object".
        _ => KeyValue::Invalid("object".into()),
    })
}

/// `group_key(record)`, `this` undefined. A throw leaves its exception pending, and the error
/// says so ([`Status::PendingException`]): napi-rs then returns with that exception as it is
/// (napi-rs's own `JsFunction::call` would take it and make a new error of it, reading it).
fn call(env: Env, group_key: &JsFunction, record: &JsUnknown) -> Result<JsUnknown> {
    let raw = env.raw();
    let mut this = ptr::null_mut();
    let mut out = ptr::null_mut();
    // SAFETY: values of this call's env; one argument.
    let status = unsafe {
        let args = [record.raw()];
        let s = sys::napi_get_undefined(raw, &mut this);
        if s != sys::Status::napi_ok {
            s
        } else {
            sys::napi_call_function(raw, this, group_key.raw(), 1, args.as_ptr(), &mut out)
        }
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::new(
            Status::from(status),
            "lanepool: groupKey threw".to_owned(),
        ));
    }
    // SAFETY: the value the call returned, of this env.
    Ok(unsafe { JsUnknown::from_raw_unchecked(raw, out) })
}

/// The bigint's value when it fits an `i128`.
fn bigint_as_i128(big: &mut JsBigInt) -> Result<Option<i128>> {
    let (negative, words) = big.get_words()?;
    if words.iter().skip(2).any(|&w| w != 0) {
        return Ok(None);
    }
    let low = u128::from(words.first().copied().unwrap_or(0));
    let high = u128::from(words.get(1).copied().unwrap_or(0));
    let magnitude = low | (high << 64);
    Ok(if negative {
        // -2^127 is i128::MIN, the one negative value whose magnitude is no i128.
        (magnitude <= 1u128 << 127).then(|| (magnitude as i128).wrapping_neg())
    } else {
        i128::try_from(magnitude).ok()
    })
}

#[napi]
impl Plan {
    /// Replaces the lanes by custom keys: `groupKey(records[i])` for each record in event
    /// order, each value judged by the core's key rule as it comes. `null`: done. An invalid
    /// key: its error (field `group_key`), and no later record's key function ran. A key
    /// function that threw: its exception, unchanged (no later one ran either).
    #[napi]
    pub fn set_keys_from(
        &mut self,
        env: Env,
        records: JsObject,
        group_key: JsFunction,
    ) -> Result<Option<EventErrorInfo>> {
        let plan = self.plan.take().ok_or_else(used)?;
        let n = records.get_array_length()? as usize;
        if n != plan.len() {
            return Err(napi::Error::from_reason(format!(
                "lanepool: {n} records for a plan of {}",
                plan.len()
            )));
        }
        let keyed = plan.with_keys(
            |index| -> std::result::Result<KeyValue, KeyError<napi::Error>> {
                let fail = |error| KeyError::Key { index, error };
                let record: JsUnknown = records.get_element(index as u32).map_err(fail)?;
                let value = call(env, &group_key, &record).map_err(fail)?;
                key_value(value).map_err(fail)
            },
        );
        match keyed {
            Ok(plan) => {
                self.plan = Some(plan);
                Ok(None)
            }
            Err(KeyError::Event(e)) => Ok(Some(e.into())),
            Err(KeyError::Key { error, .. }) => Err(error),
        }
    }
}
