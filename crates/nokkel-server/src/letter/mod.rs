//! The activation letter as it is printed: the recipient block for the envelope window,
//! the print-ready PDF, and the QR code of the HTML letter.

pub mod envelope;
pub mod pdf;
mod qr;
mod typeset;

pub use qr::qr_svg;
