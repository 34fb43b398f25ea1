//! Who is calling: the Unix user behind a method call, asked of the bus, and whether that
//! user may act on a request.
//!
//! A request belongs to the user that made it, not to its connection: a CLI that requests a
//! line and exits (`hwkit gpio set --persist`) releases it later from a new connection.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::sync::Mutex;

use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::BusName;
use zbus::proxy::CacheProperties;
use zbus::Connection;

use crate::error::{Failure, ACCESS_DENIED, FAILED};

/// The superuser, who may act on every request.
pub const ROOT: u32 = 0;

/// Users of the connections seen, by unique name: a client's later calls (a load of
/// `SetValues`) cost no round trip to the bus. The bus never hands a unique name out twice,
/// so an entry cannot go stale, only unused; the map is emptied when it grows past
/// [`KNOWN_MAX`]. One map per process: the daemon has one bus connection.
static KNOWN: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

/// How many connections [`KNOWN`] remembers before starting over.
const KNOWN_MAX: usize = 4096;

/// The Unix user id of the connection that sent this call (`GetConnectionUnixUser`).
pub async fn uid(connection: &Connection, header: &Header<'_>) -> Result<u32, Failure> {
    let sender = header.sender().ok_or_else(|| {
        Failure::new(
            FAILED,
            "the call has no sender: it must come through a bus that names its callers",
        )
    })?;
    let known = || KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(uid) = known().get(sender.as_str()) {
        return Ok(*uid);
    }
    let proxy = DBusProxy::builder(connection)
        .cache_properties(CacheProperties::No)
        .build()
        .await?;
    let uid = proxy
        .get_connection_unix_user(BusName::from(sender.to_owned()))
        .await
        .map_err(|e| Failure::new(FAILED, format!("asking the bus who {sender} is: {e}")))?;
    let mut map = known();
    if map.len() >= KNOWN_MAX {
        map.clear();
    }
    map.insert(sender.as_str().to_owned(), uid);
    Ok(uid)
}

/// Refuses `caller` acting on `request` (owned by `owner`) unless it is the owner or root.
pub fn may_act(request: &str, owner: u32, caller: u32, action: &str) -> Result<(), Failure> {
    if caller == owner || caller == ROOT {
        return Ok(());
    }
    Err(Failure::new(
        ACCESS_DENIED,
        format!(
            "{request} belongs to {}: {} may not {action} it; only its owner or root may \
             release, reconfigure or set its lines (anyone allowed may read them)",
            user(owner),
            user(caller)
        ),
    ))
}

/// `user NAME (uid N)`, or `user N` if the system has no name for it.
pub fn user(uid: u32) -> String {
    match user_name(uid) {
        Some(name) => format!("user {name} (uid {uid})"),
        None => format!("user {uid}"),
    }
}

/// The account name of `uid` from the system's user database (files, NSS), if it has one.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: all-zero bytes are a valid `passwd` (null pointers and zero ids); it is
        // only read after getpwuid_r has filled it in.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `pwd`, `buf` (with its true length) and `found` are live and writable for
        // the call; getpwuid_r writes only within them and is thread-safe.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`, which
        // is alive until the end of this function; it is copied out before then.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::DBusError;

    #[test]
    fn owners_and_root_may_act_others_are_told_who_may() {
        assert!(may_act("/io/gpiod1/requests/request0", 1000, 1000, "release").is_ok());
        assert!(may_act("/io/gpiod1/requests/request0", 1000, ROOT, "release").is_ok());
        let e = may_act("/io/gpiod1/requests/request3", ROOT, 3999999999, "release").unwrap_err();
        assert_eq!(DBusError::name(&e).as_str(), ACCESS_DENIED);
        let m = e.description().unwrap();
        assert!(
            m.starts_with(
                "/io/gpiod1/requests/request3 belongs to user root (uid 0): user 3999999999 may not release it"
            ) && m.contains("only its owner or root"),
            "{m}"
        );
    }

    #[test]
    fn users_are_named_when_the_system_knows_them() {
        assert_eq!(user(ROOT), "user root (uid 0)");
        assert_eq!(user(4_000_000_000), "user 4000000000");
    }
}
