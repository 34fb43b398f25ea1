//! A function's signature: one return code and a list of argument codes, parsed once.

use std::fmt;

use crate::error::{Error, Result};
use crate::types::TypeCode;

/// A parsed and validated signature such as `("d", "dd")` for `double pow(double, double)`.
///
/// Parsing happens once, at declare time; calls only read the parsed codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    ret: TypeCode,
    args: Box<[TypeCode]>,
}

impl Signature {
    /// Parses a return code (exactly one character) and argument codes (`""` for none).
    ///
    /// # Errors
    /// [`Error::BadReturnCode`] if `ret` is not exactly one character,
    /// [`Error::UnknownCode`] naming the bad character and its 0-based position,
    /// [`Error::VoidArgument`] for `v` among the arguments.
    ///
    /// ```
    /// use ffi_core::{Signature, TypeCode};
    /// let sig = Signature::parse("d", "dd").unwrap();
    /// assert_eq!(sig.ret(), TypeCode::Double);
    /// assert_eq!(sig.args(), &[TypeCode::Double, TypeCode::Double]);
    /// assert!(Signature::parse("i", "ix").unwrap_err().to_string().contains("position 1"));
    /// ```
    pub fn parse(ret: &str, args: &str) -> Result<Signature> {
        Ok(Signature {
            ret: parse_return(ret)?,
            args: parse_args(args)?.into_boxed_slice(),
        })
    }

    /// Builds a signature from already parsed codes.
    ///
    /// # Errors
    /// [`Error::VoidArgument`] if an argument is [`TypeCode::Void`].
    pub fn new(ret: TypeCode, args: &[TypeCode]) -> Result<Signature> {
        if let Some(position) = args.iter().position(|c| *c == TypeCode::Void) {
            return Err(Error::VoidArgument {
                position,
                signature: codes_to_string(args),
            });
        }
        Ok(Signature {
            ret,
            args: args.into(),
        })
    }

    /// The return code.
    pub fn ret(&self) -> TypeCode {
        self.ret
    }

    /// The argument codes.
    pub fn args(&self) -> &[TypeCode] {
        &self.args
    }

    /// The argument codes as a string, e.g. `"dd"`.
    pub fn args_string(&self) -> String {
        codes_to_string(&self.args)
    }
}

impl fmt::Display for Signature {
    /// Shows the signature as `("ret", "args")`, the way it was declared.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(\"{}\", \"{}\")",
            self.ret.as_char(),
            self.args_string()
        )
    }
}

pub(crate) fn codes_to_string(codes: &[TypeCode]) -> String {
    codes.iter().map(|c| c.as_char()).collect()
}

/// Parses a return code: exactly one valid character (`v` allowed).
pub(crate) fn parse_return(ret: &str) -> Result<TypeCode> {
    let mut chars = ret.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => TypeCode::from_char(c).ok_or_else(|| Error::UnknownCode {
            code: c,
            position: 0,
            signature: ret.to_owned(),
        }),
        _ => Err(Error::BadReturnCode {
            code: ret.to_owned(),
        }),
    }
}

/// Parses argument codes: any number of valid characters except `v`.
pub(crate) fn parse_args(args: &str) -> Result<Vec<TypeCode>> {
    args.chars()
        .enumerate()
        .map(|(position, c)| match TypeCode::from_char(c) {
            Some(TypeCode::Void) => Err(Error::VoidArgument {
                position,
                signature: args.to_owned(),
            }),
            Some(code) => Ok(code),
            None => Err(Error::UnknownCode {
                code: c,
                position,
                signature: args.to_owned(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_argument_codes() {
        let sig = Signature::parse("v", "bBhHiIlLqQfdpPsOC").unwrap();
        assert_eq!(sig.args().len(), 17);
        assert_eq!(sig.args_string(), "bBhHiIlLqQfdpPsOC");
        assert_eq!(sig.to_string(), "(\"v\", \"bBhHiIlLqQfdpPsOC\")");
    }

    #[test]
    fn unknown_code_names_code_and_position() {
        let err = Signature::parse("i", "iiz").unwrap_err();
        assert!(matches!(
            err,
            Error::UnknownCode {
                code: 'z',
                position: 2,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "unknown type code 'z' at position 2 of \"iiz\"; expected one of \"vbBhHiIlLqQfdpPsOC\""
        );
    }

    #[test]
    fn bad_return_codes() {
        assert!(matches!(
            Signature::parse("", "i").unwrap_err(),
            Error::BadReturnCode { code } if code.is_empty()
        ));
        assert!(matches!(
            Signature::parse("ii", "i").unwrap_err(),
            Error::BadReturnCode { code } if code == "ii"
        ));
        assert!(matches!(
            Signature::parse("x", "").unwrap_err(),
            Error::UnknownCode {
                code: 'x',
                position: 0,
                ..
            }
        ));
    }

    #[test]
    fn void_argument_is_rejected() {
        let err = Signature::parse("i", "iv").unwrap_err();
        assert!(matches!(err, Error::VoidArgument { position: 1, .. }));
        assert!(Signature::new(TypeCode::Int, &[TypeCode::Void]).is_err());
    }
}
