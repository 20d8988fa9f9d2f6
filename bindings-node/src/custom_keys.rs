//! Custom lane keys (`groupKey`): the keys come from JavaScript (`lib/group-key.js`) after the
//! core validated the event, and replace the plan's lanes. The whole rule lives here and in
//! `lib/group-key.js`, so that it can move into the core as one piece.

use lanepool::event::BatchPlan;
use napi::Result;
use napi_derive::napi;

use crate::plan::Plan;
use crate::used;

#[napi]
impl Plan {
    /// Replaces the lanes by custom keys, one per record (`null`/`undefined`: unkeyed).
    #[napi]
    pub fn set_keys(&mut self, keys: Vec<Option<String>>) -> Result<()> {
        let plan = self.plan.take().ok_or_else(used)?;
        if keys.len() != plan.len() {
            return Err(napi::Error::from_reason(format!(
                "lanepool: {} keys for {} records",
                keys.len(),
                plan.len()
            )));
        }
        let source = plan.source();
        let ids = plan.into_identifiers();
        self.plan = Some(BatchPlan::from_parts(source, ids.into_iter().zip(keys)));
        Ok(())
    }
}
