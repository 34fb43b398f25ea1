//! The crate's one error type.
//!
//! Every message names the thing that is wrong and what would be right, so that it can be
//! shown to a user as is (the `hwkit` command prints it on one line).

use crate::types::ALL_CODES;

/// Everything that can go wrong in `ffi-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `dlopen` failed; `message` is `dlerror()`'s text.
    #[error("cannot open library {library:?}: {message}")]
    Open {
        /// The name or path given to `open`.
        library: String,
        /// `dlerror()`'s text.
        message: String,
    },

    /// `dlclose` failed; `message` is `dlerror()`'s text.
    #[error("cannot close library {library:?}: {message}")]
    Close {
        /// The library's name.
        library: String,
        /// `dlerror()`'s text.
        message: String,
    },

    /// The library was closed with [`Library::close`](crate::Library::close) and cannot
    /// declare anything more.
    #[error("library {library:?} is closed; open it again to look up {symbol:?}")]
    Closed {
        /// The library's name.
        library: String,
        /// The symbol that was asked for.
        symbol: String,
    },

    /// `dlsym` did not find the symbol.
    #[error("symbol {symbol:?} not found in {library}: {message}")]
    SymbolNotFound {
        /// The symbol's name.
        symbol: String,
        /// The library's name.
        library: String,
        /// `dlerror()`'s text.
        message: String,
    },

    /// The symbol exists but its address is NULL, so it cannot be called or read.
    #[error("symbol {symbol:?} in {library} has a NULL address; a function or variable needs a real one")]
    NullSymbol {
        /// The symbol's name.
        symbol: String,
        /// The library's name.
        library: String,
    },

    /// A symbol name or library name contains a NUL byte, which C cannot represent.
    #[error("{what} {name:?} contains a NUL byte; C names end at the first NUL")]
    NulInName {
        /// `"symbol"` or `"library name"`.
        what: &'static str,
        /// The name as given.
        name: String,
    },

    /// A signature string contains a character that is not a type code.
    #[error("unknown type code {code:?} at position {position} of {signature:?}; expected one of \"{codes}\"", codes = ALL_CODES)]
    UnknownCode {
        /// The offending character.
        code: char,
        /// Its 0-based position in `signature`.
        position: usize,
        /// The whole signature string.
        signature: String,
    },

    /// The return code is empty or longer than one character.
    #[error("return code {code:?} is not one type code; expected exactly one of \"{codes}\"", codes = ALL_CODES)]
    BadReturnCode {
        /// The return code as given.
        code: String,
    },

    /// `v` (void) appears among argument codes.
    #[error("'v' (void) at position {position} of {signature:?} is only valid as a return code; use \"\" for no arguments")]
    VoidArgument {
        /// Its 0-based position in `signature`.
        position: usize,
        /// The whole signature string.
        signature: String,
    },

    /// A variadic argument was given a code that C's default promotions forbid.
    #[error("variadic argument {index} of {function} cannot be {code:?}: C promotes it to {promoted:?}; declare it with that code")]
    VariadicPromotion {
        /// The function's name.
        function: String,
        /// 0-based index of the argument in the whole call.
        index: usize,
        /// The code given.
        code: char,
        /// The code that would be right.
        promoted: char,
    },

    /// libffi refused to prepare a call interface.
    #[error("libffi cannot prepare a call interface for {function} (ret {ret:?}, args {args:?}): {reason}")]
    Prepare {
        /// The function's name.
        function: String,
        /// The return code.
        ret: char,
        /// The argument codes.
        args: String,
        /// libffi's status.
        reason: String,
    },

    /// libffi could not allocate a closure (executable memory) for a callback.
    #[error("libffi cannot allocate a closure for a callback with signature ({ret:?}, {args:?})")]
    ClosureAlloc {
        /// The return code.
        ret: char,
        /// The argument codes.
        args: String,
    },

    /// A call got the wrong number of arguments.
    #[error("{function}: expected {expected} argument{s}, got {got}", s = if *expected == 1 { "" } else { "s" })]
    ArgCount {
        /// The function's name.
        function: String,
        /// How many the signature declares.
        expected: usize,
        /// How many were given.
        got: usize,
    },

    /// A value of the wrong kind was given for a slot.
    #[error("{function}: argument {index} (slot '{code}', {ctype}) expects {expected}, got {got}")]
    ArgType {
        /// The function (or variable) name.
        function: String,
        /// 0-based argument index.
        index: usize,
        /// The slot's type code.
        code: char,
        /// The slot's C type.
        ctype: &'static str,
        /// What the slot accepts.
        expected: &'static str,
        /// What was given, e.g. `"a float (1.5)"`.
        got: String,
    },

    /// A string argument contains a NUL byte, so C would see a shorter string.
    #[error("{function}: argument {index} is a string with a NUL byte at offset {offset}; C strings end at the first NUL (pass a CStr or a byte buffer instead)")]
    NulInString {
        /// The function's name.
        function: String,
        /// 0-based argument index.
        index: usize,
        /// Offset of the first NUL.
        offset: usize,
    },

    /// A callback panicked while called from C during this call; the panic was caught at
    /// the C boundary and the callback returned 0.
    #[error("callback panicked during the call to {function}: {message}")]
    CallbackPanicked {
        /// The outer function that called the callback (through C).
        function: String,
        /// The panic's message.
        message: String,
    },

    /// A callback returned a value its return code cannot hold; it returned 0 to C instead.
    #[error("callback with return code '{code}' returned {got} during the call to {function}; expected {expected}")]
    CallbackReturn {
        /// The outer function that called the callback.
        function: String,
        /// The callback's return code.
        code: char,
        /// What it accepts.
        expected: &'static str,
        /// What the callback returned.
        got: String,
    },

    /// A value cannot be stored in a C variable of this type (borrowed memory would dangle).
    #[error("cannot store {got} in C variable {name:?} (type '{code}'): {why}")]
    VarSet {
        /// The variable's name.
        name: String,
        /// Its type code.
        code: char,
        /// What was given.
        got: String,
        /// Why not, and what would work.
        why: &'static str,
    },

    /// A memory view over a NULL pointer with a non-zero length.
    #[error("cannot view {len} bytes at a NULL pointer; pass a valid pointer or length 0")]
    NullPointer {
        /// The requested length.
        len: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
