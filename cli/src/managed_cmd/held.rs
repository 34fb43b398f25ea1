//! Which of the daemon's requests holds a line: LINE arguments resolved as `hwkit gpio`
//! resolves them, then looked up on the daemon (its line objects say `Managed` and which
//! request holds them).

use std::error::Error;

use hw::managed::{Client, ManagedLineInfo, ManagedRequest};

use crate::gpio_cmd::lines::Target;

/// The lines of one request that the user named.
pub(super) struct HeldGroup<'a> {
    /// The request.
    pub request: ManagedRequest,
    /// `(position in the arguments, target, the daemon's view of the line)`.
    pub lines: Vec<(usize, &'a Target, ManagedLineInfo)>,
}

/// The requests holding `targets`, in order of first mention; a line the daemon does not
/// hold is an error that says who does and what to do.
pub(super) fn by_request<'a>(
    client: &Client,
    targets: &'a [Target],
) -> Result<Vec<HeldGroup<'a>>, Box<dyn Error>> {
    let mut groups: Vec<HeldGroup<'a>> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let line = client.line(&t.chip, t.offset)?;
        let Some(path) = line.request.clone() else {
            return Err(not_held(t, &line).into());
        };
        match groups.iter_mut().find(|g| g.request.path() == path) {
            Some(g) => g.lines.push((i, t, line)),
            None => groups.push(HeldGroup {
                request: client.open(&path)?,
                lines: vec![(i, t, line)],
            }),
        }
    }
    Ok(groups)
}

/// Line `t` is not the daemon's.
fn not_held(t: &Target, line: &ManagedLineInfo) -> String {
    let who = if !line.info.used {
        "it is free".to_owned()
    } else if line.info.consumer.is_empty() {
        "it is used by the kernel or another process".to_owned()
    } else {
        format!(
            "it is used by consumer '{}', not through the daemon",
            line.info.consumer
        )
    };
    format!(
        "line '{}' ({} offset {}) is not held by the GPIO daemon ({who}): request it with \
         `hwkit managed request {}`",
        t.arg, t.chip, t.offset, t.arg
    )
}

/// Whether a RELEASE argument names a request (`requestN` or an object path) rather than a
/// line.
pub(super) fn is_request_name(arg: &str) -> bool {
    arg.starts_with('/')
        || arg
            .strip_prefix("request")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_told_from_lines() {
        assert!(is_request_name("request0"));
        assert!(is_request_name("request12"));
        assert!(is_request_name("/io/gpiod1/requests/request3"));
        assert!(!is_request_name("request"));
        assert!(!is_request_name("requestX"));
        assert!(!is_request_name("pin11"));
        assert!(!is_request_name("GPIO17"));
    }
}
