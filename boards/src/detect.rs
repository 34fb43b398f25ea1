//! Which board is this? From `<root>/proc/device-tree/{compatible,model}` and
//! `<root>/proc/cpuinfo`, so tests can point `root` at a captured tree.

use std::fs;
use std::path::Path;

use crate::inventory::ChipInventory;
use crate::profile::Profile;
use crate::registry::{generic, profiles};
use crate::revision::Revision;

/// What the system says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BoardInfo {
    /// `/proc/device-tree/model` without its trailing NUL.
    pub model: Option<String>,
    /// `/proc/device-tree/compatible`, most specific first.
    pub compatible: Vec<String>,
    /// The Raspberry Pi `Revision` from `/proc/cpuinfo`.
    pub revision: Option<Revision>,
}

impl BoardInfo {
    /// Reads the three sources under `root`; missing or unreadable files leave their field empty
    /// (a PC has no device tree, and that is not an error).
    pub fn read(root: &Path) -> BoardInfo {
        let dt = root.join("proc/device-tree");
        BoardInfo::parse(
            fs::read(dt.join("model")).ok().as_deref(),
            fs::read(dt.join("compatible")).ok().as_deref(),
            fs::read_to_string(root.join("proc/cpuinfo"))
                .ok()
                .as_deref(),
        )
    }

    /// Reads the three sources' contents as [`read`](BoardInfo::read) finds them (`None`:
    /// the file is missing): the device tree's `model` and NUL-separated `compatible`
    /// bytes, and the text of `cpuinfo`.
    pub fn parse(
        model: Option<&[u8]>,
        compatible: Option<&[u8]>,
        cpuinfo: Option<&str>,
    ) -> BoardInfo {
        let model = model
            .map(|b| {
                String::from_utf8_lossy(b)
                    .trim_end_matches('\0')
                    .trim()
                    .to_string()
            })
            .filter(|m| !m.is_empty());
        let compatible = compatible
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let revision = cpuinfo.and_then(Revision::from_cpuinfo);
        BoardInfo {
            model,
            compatible,
            revision,
        }
    }
}

/// What decided the profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchedBy {
    /// A `compatible` string.
    Compatible(String),
    /// The `Revision` code alone.
    Revision(Revision),
    /// A prefix of the model string.
    Model(String),
    /// No device tree, but GPIO chips that only this SoC has (label and line count): a
    /// guess, which the boards that share the SoC make ambiguous.
    Chips {
        /// The labels of the chips that matched, e.g. `pinctrl-bcm2711`.
        labels: Vec<String>,
        /// The other boards with the same chips, as `name (--board id)`.
        alike: Vec<String>,
    },
    /// Nothing matched: the generic profile.
    Fallback,
}

/// The result of detection.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The chosen profile (the generic one when nothing matched).
    pub profile: &'static Profile,
    /// What was read.
    pub info: BoardInfo,
    /// What decided it.
    pub matched_by: MatchedBy,
}

impl Detection {
    /// One line saying what was detected and why; for the fallback, says so plainly.
    pub fn message(&self) -> String {
        match &self.matched_by {
            MatchedBy::Compatible(c) => {
                format!("{} (detected from compatible \"{c}\")", self.profile.name)
            }
            MatchedBy::Revision(r) => {
                format!("{} (detected from cpuinfo Revision {r})", self.profile.name)
            }
            MatchedBy::Model(m) => format!("{} (detected from model \"{m}\")", self.profile.name),
            MatchedBy::Chips { labels, alike } => {
                let chips = labels
                    .iter()
                    .map(|l| format!("\"{l}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut m = format!(
                    "{} (guessed from GPIO chip {chips}: no device tree says which board this is",
                    self.profile.name
                );
                if let Some((last, rest)) = alike.split_last() {
                    let boards = if rest.is_empty() {
                        last.to_string()
                    } else {
                        format!("{} and {last}", rest.join(", "))
                    };
                    m.push_str(&format!(
                        "; {boards} {} the same, pick yours with --board",
                        if rest.is_empty() { "has" } else { "have" }
                    ));
                }
                m.push(')');
                m
            }
            MatchedBy::Fallback => {
                let mut seen = Vec::new();
                if let Some(m) = &self.info.model {
                    seen.push(format!("model \"{m}\""));
                }
                if !self.info.compatible.is_empty() {
                    seen.push(format!(
                        "compatible \"{}\"",
                        self.info.compatible.join(", ")
                    ));
                }
                if let Some(r) = &self.info.revision {
                    seen.push(format!("Revision {r}"));
                }
                let seen = if seen.is_empty() {
                    "no device tree model, compatible or Revision found".to_string()
                } else {
                    seen.join(", ")
                };
                format!(
                    "unknown board ({seen}): using the generic profile, which has no header map; \
                     name lines as chip:offset or by line name, or pick a board with --board"
                )
            }
        }
    }
}

/// Detects the board under `root` (`/` on the board itself).
pub fn detect(root: &Path) -> Detection {
    detect_from(BoardInfo::read(root))
}

/// Detects the board under `root`, taking its GPIO chips as evidence when no device tree says
/// which board this is (none at all: an x86 machine or VM, a kernel booted without one; or
/// QEMU `virt`'s, which describes no board): a chip labelled `pinctrl-bcm2711` with 58 lines
/// is a Raspberry Pi 4's SoC. A device tree that names a board always wins, known or not.
pub fn detect_with_chips(root: &Path, chips: &ChipInventory) -> Detection {
    detect_from_chips(BoardInfo::read(root), chips)
}

/// [`detect_from`], then, if nothing matched and no device tree names a board, the profile
/// marked `by_chips` whose chips (labels and line counts) are all among `chips`.
pub fn detect_from_chips(info: BoardInfo, chips: &ChipInventory) -> Detection {
    let found = detect_from(info);
    if found.matched_by != MatchedBy::Fallback || !describes_no_board(&found.info) {
        return found;
    }
    let has = |label: &str, lines: u32| {
        chips
            .by_label(label)
            .iter()
            .any(|c| c.num_lines == Some(lines))
    };
    let all = profiles();
    let matching =
        |p: &Profile| !p.chips.is_empty() && p.chips.iter().all(|c| has(&c.label, c.lines));
    let Some(profile) = all.iter().find(|p| p.detect.by_chips && matching(p)) else {
        return found;
    };
    let alike = all
        .iter()
        .filter(|p| p.id != profile.id && p.chips == profile.chips)
        .map(|p| format!("{} ({})", p.name, p.id))
        .collect();
    Detection {
        profile,
        matched_by: MatchedBy::Chips {
            labels: profile.chips.iter().map(|c| c.label.clone()).collect(),
            alike,
        },
        info: found.info,
    }
}

/// The compatible string of QEMU's `virt` machine, whose generated device tree (model and
/// compatible both this) describes a virtual machine, not a board.
const QEMU_VIRT: &str = "linux,dummy-virt";

/// Whether `info` leaves the board unsaid: no device tree at all, or QEMU `virt`'s.
fn describes_no_board(info: &BoardInfo) -> bool {
    info.model.as_deref().is_none_or(|m| m == QEMU_VIRT)
        && info.compatible.iter().all(|c| c == QEMU_VIRT)
}

/// Chooses the profile for what a system said about itself.
pub fn detect_from(info: BoardInfo) -> Detection {
    let all = profiles();
    let rev = info.revision;
    // Compatible strings come most specific first: the first one any profile claims decides,
    // and the revision breaks ties between profiles claiming the same string (Pi 1 rev 1/2).
    for c in &info.compatible {
        let best = all
            .iter()
            .filter(|p| p.detect.compatible.iter().any(|pc| pc == c))
            .filter_map(|p| revision_score(p, rev).map(|s| (s, p)))
            .max_by_key(|(s, _)| *s);
        if let Some((_, p)) = best {
            return Detection {
                profile: p,
                matched_by: MatchedBy::Compatible(c.clone()),
                info,
            };
        }
    }
    // Revision codes mean something only on a Raspberry Pi: without a device tree (old kernels)
    // or on a Broadcom SoC the revision alone may decide; another board's "Revision" may not.
    let pi_like = info.compatible.is_empty()
        || info
            .compatible
            .iter()
            .any(|c| c.starts_with("raspberrypi,") || c.starts_with("brcm,bcm2"));
    if let (Some(r), true) = (rev, pi_like) {
        if let Some(p) = all.iter().find(|p| revision_listed(p, r)) {
            return Detection {
                profile: p,
                matched_by: MatchedBy::Revision(r),
                info,
            };
        }
    }
    if let Some(model) = &info.model {
        // Longest prefix wins: "Raspberry Pi Zero 2 W" over "Raspberry Pi Zero".
        let best = all
            .iter()
            .flat_map(|p| p.detect.models.iter().map(move |m| (m, p)))
            .filter(|(m, _)| model.starts_with(m.as_str()))
            .max_by_key(|(m, _)| m.len());
        if let Some((_, p)) = best {
            return Detection {
                profile: p,
                matched_by: MatchedBy::Model(model.clone()),
                info,
            };
        }
    }
    Detection {
        profile: generic(),
        matched_by: MatchedBy::Fallback,
        info,
    }
}

fn revision_listed(p: &Profile, r: Revision) -> bool {
    match r {
        Revision::NewStyle { board_type, .. } => p.detect.revision_types.contains(&board_type),
        Revision::OldStyle { code } => p.detect.revision_codes.contains(&code),
    }
}

/// 2: the revision is listed; 1: the profile lists none; 0: it lists others (still a candidate:
/// a new revision of a known board should not lose its profile); None: the profile requires a
/// listed revision and this is not one.
fn revision_score(p: &Profile, rev: Option<Revision>) -> Option<u8> {
    let has_rules = !p.detect.revision_types.is_empty() || !p.detect.revision_codes.is_empty();
    match rev {
        Some(r) if revision_listed(p, r) => Some(2),
        _ if p.detect.requires_revision => None,
        _ if has_rules => Some(0),
        _ => Some(1),
    }
}

#[cfg(test)]
mod chip_evidence_tests {
    use super::*;
    use crate::inventory::Chip;

    fn chips(specs: &[(&str, u32)]) -> ChipInventory {
        ChipInventory::new(
            specs
                .iter()
                .enumerate()
                .map(|(i, (label, lines))| {
                    let mut c = Chip::named(format!("gpiochip{i}"));
                    c.label = Some((*label).to_owned());
                    c.num_lines = Some(*lines);
                    c
                })
                .collect(),
        )
    }

    /// What a device tree with this model and these compatible strings says.
    fn tree(model: &str, compatible: &[&str]) -> BoardInfo {
        BoardInfo {
            model: Some(model.into()),
            compatible: compatible.iter().map(|c| (*c).into()).collect(),
            ..BoardInfo::default()
        }
    }

    #[test]
    fn without_a_device_tree_a_pi4_soc_chip_means_a_pi4_and_says_it_is_a_guess() {
        let d = detect_from_chips(
            BoardInfo::default(),
            &chips(&[("hwkit-sim", 8), ("pinctrl-bcm2711", 58)]),
        );
        assert_eq!(d.profile.id, "rpi-4b");
        assert_eq!(
            d.message(),
            "Raspberry Pi 4 Model B (guessed from GPIO chip \"pinctrl-bcm2711\": no device tree \
             says which board this is; Raspberry Pi 400 (rpi-400) and Raspberry Pi Compute Module 4 \
             on the CM4 IO board (rpi-cm4-io) have the same, pick yours with --board)"
        );
        let d = detect_from_chips(BoardInfo::default(), &chips(&[("pinctrl-rp1", 54)]));
        assert_eq!(d.profile.id, "rpi-5");
        let d = detect_from_chips(BoardInfo::default(), &chips(&[("pinctrl-bcm2835", 54)]));
        assert_eq!(d.profile.id, "rpi-3b");
        // QEMU's virt machine (the arm64 VM) has a device tree that names no board.
        let virt = tree("linux,dummy-virt", &["linux,dummy-virt"]);
        let d = detect_from_chips(virt, &chips(&[("pinctrl-bcm2711", 58)]));
        assert_eq!(d.profile.id, "rpi-4b");
    }

    #[test]
    fn a_device_tree_or_a_different_line_count_leaves_the_chips_out_of_it() {
        // A device tree that names another machine: its word stands, unknown as it is.
        let info = tree("Acme CM4 carrier", &["acme,cm4-carrier", "brcm,bcm2711"]);
        let d = detect_from_chips(info, &chips(&[("pinctrl-bcm2711", 58)]));
        assert_eq!(d.matched_by, MatchedBy::Fallback);
        let info = tree("linux,dummy-virt", &["linux,dummy-virt", "acme,board"]);
        let d = detect_from_chips(info, &chips(&[("pinctrl-bcm2711", 58)]));
        assert_eq!(d.matched_by, MatchedBy::Fallback);
        // The label alone is not enough.
        let d = detect_from_chips(BoardInfo::default(), &chips(&[("pinctrl-bcm2711", 32)]));
        assert_eq!(d.matched_by, MatchedBy::Fallback);
        let d = detect_from_chips(BoardInfo::default(), &chips(&[]));
        assert_eq!(d.matched_by, MatchedBy::Fallback);
    }

    #[test]
    fn one_profile_at_most_stands_for_each_set_of_chips() {
        let all = profiles();
        for p in all.iter().filter(|p| p.detect.by_chips) {
            assert!(!p.chips.is_empty(), "{}: by_chips without chips", p.id);
            let rivals: Vec<_> = all
                .iter()
                .filter(|q| q.id != p.id && q.detect.by_chips && q.chips == p.chips)
                .map(|q| q.id.as_str())
                .collect();
            assert!(rivals.is_empty(), "{} and {rivals:?} both claim", p.id);
        }
    }
}
