//! VM tests of the libgpiod backend (in progress).
