//! The activation letter as it is printed: its QR code.

mod qr;

pub use qr::qr_svg;
