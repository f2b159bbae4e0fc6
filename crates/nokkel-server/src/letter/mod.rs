//! The activation letter as it is printed: the recipient block for the envelope window
//! and the QR code.

pub mod envelope;
mod qr;

pub use qr::qr_svg;
