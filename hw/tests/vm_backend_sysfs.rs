//! VM tests of the sysfs backend (in progress).
