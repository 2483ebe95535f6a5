//! The Lua scripts: one per atomic store operation.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/common.lua"), include_str!($file)))
        });
    };
}

script!(CREATE, "lua/create.lua");
script!(GET, "lua/get.lua");
script!(CLAIM, "lua/claim.lua");
script!(RENEW, "lua/renew.lua");
script!(FINISH, "lua/finish.lua");
script!(RECOVER, "lua/recover.lua");
