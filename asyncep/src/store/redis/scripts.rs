//! The Lua scripts: one per atomic store operation. Each is the Rust
//! constants it needs (so they have one source of truth, and cost no
//! argument per call), then `common.lua`, then its own file.

use std::sync::LazyLock;

use redis::Script;

use crate::job::{ErrorInfo, LEASE_EXPIRED, MAX_LOST_LEASES, canceled, lost_too_often};
use crate::store::changes::CANCEL_PREFIX;

/// Expired leases recovered per call, at most.
pub(super) const RECOVER_BATCH: u32 = 500;
/// Due retries moved to the ready queue per name and claim, at most.
pub(super) const PROMOTE_BATCH: u32 = 100;

/// The Lua source of the constants every script sees.
fn constants() -> String {
    let json = |info: &ErrorInfo| {
        let text = serde_json::to_string(info).expect("an ErrorInfo is JSON");
        // A Lua long string: no escape inside, and JSON never holds `]==]`
        // unescaped in these fixed texts.
        format!("[==[{text}]==]")
    };
    format!(
        "local INTERRUPTED_ERROR = {}\nlocal LOST_TOO_OFTEN_ERROR = {}\nlocal CANCELED_ERROR = {}\n\
         local MAX_LOST_LEASES = {MAX_LOST_LEASES}\nlocal RECOVER_BATCH = {RECOVER_BATCH}\n\
         local PROMOTE_BATCH = {PROMOTE_BATCH}\nlocal CANCEL_PREFIX = '{CANCEL_PREFIX}'\n",
        json(&ErrorInfo::new(ErrorInfo::INTERRUPTED, LEASE_EXPIRED)),
        json(&lost_too_often()),
        json(&canceled()),
    )
}

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(&format!(
                "{}{}{}",
                constants(),
                include_str!("lua/common.lua"),
                include_str!($file)
            ))
        });
    };
}

script!(CREATE, "lua/create.lua");
script!(GET, "lua/get.lua");
script!(CLAIM, "lua/claim.lua");
script!(RENEW, "lua/renew.lua");
script!(FINISH, "lua/finish.lua");
script!(RECOVER, "lua/recover.lua");
script!(CANCEL, "lua/cancel.lua");
script!(PROGRESS, "lua/progress.lua");
script!(WATCH, "lua/watch.lua");
script!(QUEUES, "lua/queues.lua");
script!(RETRY, "lua/retry.lua");
script!(LIST, "lua/list.lua");
script!(DELETE, "lua/delete.lua");
script!(SWEEP, "lua/sweep.lua");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_are_lua_and_the_json_is_whole() {
        let source = constants();
        assert!(source.contains("local MAX_LOST_LEASES = 5"));
        assert!(source.contains(LEASE_EXPIRED));
        assert!(!source.contains("]==]]==]"));
    }
}
