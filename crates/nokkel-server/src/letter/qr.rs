//! The activation letter's QR code, as an SVG for the HTML letter.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code holding `text` (the grouped activation code), with a quiet zone, sized by
/// the stylesheet. Medium error correction survives creases and smudges on paper.
pub fn qr_svg(text: &str) -> String {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .min_dimensions(160, 160)
            .build(),
        Err(err) => {
            tracing::error!(error = %err, "QR code could not be made");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn qr_is_an_svg_image() {
        let svg = super::qr_svg("ABCDE-FGHJK-MNPQ7");
        assert!(svg.contains("<svg"));
        assert!(svg.contains("</svg>"));
        // The code is encoded, not printed as text inside the SVG.
        assert!(!svg.contains("ABCDE"));
    }
}
