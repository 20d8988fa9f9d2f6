//! Typed array arguments (the driver's reused buffers), borrowed for one native call.

use std::ptr;

use napi::{sys, Result, Status};

/// The data of a typed array argument of the expected type, borrowed for this call.
///
/// # Safety
/// `value` belongs to this call's env; the slice must not outlive the call.
pub unsafe fn typed<'a, T>(
    env: sys::napi_env,
    value: sys::napi_value,
    ty: i32,
) -> Result<&'a mut [T]> {
    let mut actual = -1;
    let mut len = 0usize;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0usize;
    let status = sys::napi_get_typedarray_info(
        env,
        value,
        &mut actual,
        &mut len,
        &mut data,
        &mut buffer,
        &mut offset,
    );
    if status != sys::Status::napi_ok || actual != ty {
        return Err(napi::Error::new(
            Status::InvalidArg,
            "lanepool: expected a typed array of the driver's type".to_owned(),
        ));
    }
    if len == 0 {
        return Ok(&mut []);
    }
    Ok(std::slice::from_raw_parts_mut(data.cast::<T>(), len))
}
