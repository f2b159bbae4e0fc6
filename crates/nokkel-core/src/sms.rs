//! How long a text message is on the air: its encoding and how many segments it takes.
//!
//! 3GPP TS 23.038 defines the GSM 7-bit default alphabet (with an extension table whose
//! characters take two septets, an escape and the character) and UCS-2 for everything
//! else. One segment holds 160 septets or 70 UCS-2 units; a longer message is split into
//! segments of 153 septets or 67 units, because each carries a 6-byte concatenation
//! header (TS 23.040 §9.2.3.24.1). A message that is not all GSM-7 goes as UCS-2 whole.
//! Nøkkel writes its texts to stay in one GSM-7 segment (æ, ø and å are in the basic
//! alphabet; «» and ’ are not), and tells the aggregator what it counted.

/// The GSM 7-bit default alphabet's basic set (TS 23.038 §6.2.1), in table order.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table (TS 23.038 §6.2.1.1): each takes an escape plus itself.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The encoding a message is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsEncoding {
    /// The GSM 7-bit default alphabet.
    Gsm7,
    /// UCS-2 (UTF-16 code units; characters beyond the BMP take two).
    Ucs2,
}

/// A message's length on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsLength {
    /// The encoding it needs.
    pub encoding: SmsEncoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Segments it is sent in (at least 1, also for an empty text).
    pub segments: usize,
}

impl SmsLength {
    /// Measures `text`.
    pub fn of(text: &str) -> Self {
        let septets = text
            .chars()
            .map(|c| {
                if GSM7_BASIC.contains(c) && c != '\u{1b}' {
                    Some(1)
                } else if GSM7_EXTENSION.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .sum::<Option<usize>>();
        let (encoding, units, single, multi) = match septets {
            Some(septets) => (SmsEncoding::Gsm7, septets, 160, 153),
            None => (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67),
        };
        let segments = if units <= single {
            1
        } else {
            units.div_ceil(multi)
        };
        Self {
            encoding,
            units,
            segments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norwegian_letters_are_gsm7() {
        let length = SmsLength::of("Nøkkel: 123456 er koden din. Ærlig, Åse!");
        assert_eq!(length.encoding, SmsEncoding::Gsm7);
        assert_eq!(length.units, 40);
        assert_eq!(length.segments, 1);
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let length = SmsLength::of("€[]");
        assert_eq!((length.encoding, length.units), (SmsEncoding::Gsm7, 6));
    }

    #[test]
    fn segment_boundaries() {
        assert_eq!(SmsLength::of(&"a".repeat(160)).segments, 1);
        assert_eq!(SmsLength::of(&"a".repeat(161)).segments, 2);
        assert_eq!(SmsLength::of(&"a".repeat(306)).segments, 2);
        assert_eq!(SmsLength::of(&"a".repeat(307)).segments, 3);
        // 80 euro signs are 160 septets: still one segment.
        assert_eq!(SmsLength::of(&"€".repeat(80)).segments, 1);
        assert_eq!(SmsLength::of(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn anything_else_makes_the_whole_message_ucs2() {
        let length = SmsLength::of("«Gjenoppta»");
        assert_eq!(length.encoding, SmsEncoding::Ucs2);
        assert_eq!(length.units, 11);
        assert_eq!(SmsLength::of(&"ł".repeat(70)).segments, 1);
        assert_eq!(SmsLength::of(&"ł".repeat(71)).segments, 2);
        assert_eq!(SmsLength::of(&"ł".repeat(134)).segments, 2);
        assert_eq!(SmsLength::of(&"ł".repeat(135)).segments, 3);
        // An emoji is two UTF-16 units.
        assert_eq!(SmsLength::of("😀").units, 2);
    }

    #[test]
    fn escape_itself_is_not_text() {
        assert_eq!(SmsLength::of("\u{1b}").encoding, SmsEncoding::Ucs2);
    }
}
