//! Type for the printed letter: the vendored fonts, shaping, measuring and line breaking.
//!
//! The fonts are compiled in (DejaVu Sans, Sans Bold and Sans Mono Bold from
//! `assets/fonts/`, licence beside them), so the server never depends on the fonts of the
//! machine it runs on, and every letter looks the same.

use std::ops::Range;

use krilla::text::{Font, GlyphId, KrillaGlyph};

use super::pdf::PdfError;

static REGULAR: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf");
static MONO_BOLD: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSansMono-Bold.ttf");

/// A typeface of the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// Running text.
    Regular,
    /// Headings, labels, the warning and the register address.
    Bold,
    /// The activation code: every character the same width, so the groups line up and
    /// no character hides next to a wide one.
    Mono,
}

/// One font, parsed twice: by krilla to embed it, by rustybuzz to shape text with it.
struct Face {
    pdf: Font,
    shaper: rustybuzz::Face<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Result<Face, PdfError> {
        let pdf = Font::new(data.into(), 0).ok_or(PdfError::Font)?;
        let shaper = rustybuzz::Face::from_slice(data, 0).ok_or(PdfError::Font)?;
        let units_per_em = shaper.units_per_em() as f32;
        Ok(Face {
            pdf,
            shaper,
            units_per_em,
        })
    }
}

/// The letter's fonts.
pub(super) struct Fonts {
    regular: Face,
    bold: Face,
    mono: Face,
}

/// Text shaped in one style: the glyphs to draw and its width at size 1.
pub(super) struct Shaped {
    pub glyphs: Vec<KrillaGlyph>,
    /// Width in ems; multiply by the font size for points.
    pub width_em: f32,
}

impl Fonts {
    /// Parses the compiled-in fonts.
    pub fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: Face::load(REGULAR)?,
            bold: Face::load(BOLD)?,
            mono: Face::load(MONO_BOLD)?,
        })
    }

    fn face(&self, style: Style) -> &Face {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
            Style::Mono => &self.mono,
        }
    }

    /// The font krilla embeds for `style`.
    pub fn pdf_font(&self, style: Style) -> Font {
        self.face(style).pdf.clone()
    }

    /// Shapes one line of left-to-right text (with kerning), keeping for every glyph the
    /// range of `text` it stands for, so the PDF maps the glyphs back to the characters.
    pub fn shape(&self, style: Style, text: &str) -> Shaped {
        let face = self.face(style);
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(rustybuzz::Direction::LeftToRight);
        buffer.guess_segment_properties();
        let output = rustybuzz::shape(&face.shaper, &[], buffer);
        let infos = output.glyph_infos();
        let positions = output.glyph_positions();
        let em = face.units_per_em;
        let mut glyphs = Vec::with_capacity(infos.len());
        let mut width = 0.0;
        for (i, (info, pos)) in infos.iter().zip(positions).enumerate() {
            let start = info.cluster as usize;
            // Clusters grow left to right; a cluster ends where the next one starts.
            let end = infos[i..]
                .iter()
                .map(|next| next.cluster as usize)
                .find(|&cluster| cluster > start)
                .unwrap_or(text.len());
            let advance = pos.x_advance as f32 / em;
            width += advance;
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                advance,
                pos.x_offset as f32 / em,
                pos.y_offset as f32 / em,
                pos.y_advance as f32 / em,
                Range { start, end },
                None,
            ));
        }
        Shaped {
            glyphs,
            width_em: width,
        }
    }

    /// The width of `text` in points at `size`.
    pub fn width(&self, style: Style, size: f32, text: &str) -> f32 {
        self.shape(style, text).width_em * size
    }

    /// Breaks `spans` into lines no wider than `max_width` points at `size`, at spaces
    /// only (a no-break space keeps a date together). A word wider than a line gets a
    /// line of its own.
    pub fn wrap(&self, spans: &[Span], size: f32, max_width: f32) -> Vec<Vec<Span>> {
        let words = self.measure(spans, size);
        assemble(&words, &break_lines(&words, max_width))
    }

    /// Like [`Fonts::wrap`], but with lines of even length: the narrowest width (down to
    /// half of `max_width`) that needs no more lines. For short texts in boxes, where a
    /// last line of one word looks like a mistake.
    pub fn wrap_balanced(&self, spans: &[Span], size: f32, max_width: f32) -> Vec<Vec<Span>> {
        let words = self.measure(spans, size);
        let lines = break_lines(&words, max_width).len();
        let (mut fits, mut too_narrow) = (max_width, max_width / 2.0);
        // A tenth of a point is finer than any difference a reader sees.
        while lines > 1 && fits - too_narrow > 0.1 {
            let middle = (fits + too_narrow) / 2.0;
            if break_lines(&words, middle).len() <= lines {
                fits = middle;
            } else {
                too_narrow = middle;
            }
        }
        assemble(&words, &break_lines(&words, fits))
    }

    /// The words of `spans` with their widths at `size`.
    fn measure(&self, spans: &[Span], size: f32) -> Vec<Word> {
        words(spans)
            .into_iter()
            .map(|spans| {
                let width = spans
                    .iter()
                    .map(|s| self.width(s.style, size, &s.text))
                    .sum();
                let space_style = spans.last().map_or(Style::Regular, |s| s.style);
                Word {
                    space: self.width(space_style, size, " "),
                    space_style,
                    width,
                    spans,
                }
            })
            .collect()
    }
}

/// A word and what it takes on a line.
struct Word {
    spans: Vec<Span>,
    /// Its width in points.
    width: f32,
    /// The width of the space after it, in the style of its end.
    space: f32,
    space_style: Style,
}

/// Where the lines break: each line as a range of `words`, greedily filled.
fn break_lines(words: &[Word], max_width: f32) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut width = 0.0;
    for (i, word) in words.iter().enumerate() {
        if i > start && width + words[i - 1].space + word.width > max_width {
            lines.push(start..i);
            start = i;
            width = word.width;
        } else if i == start {
            width = word.width;
        } else {
            width += words[i - 1].space + word.width;
        }
    }
    if start < words.len() {
        lines.push(start..words.len());
    }
    lines
}

/// The lines' spans: words joined by spaces, runs of one style merged.
fn assemble(words: &[Word], lines: &[Range<usize>]) -> Vec<Vec<Span>> {
    lines
        .iter()
        .map(|range| {
            let mut line = Vec::new();
            for (i, word) in words[range.clone()].iter().enumerate() {
                if i > 0 {
                    push(&mut line, words[range.start + i - 1].space_style, " ");
                }
                for span in &word.spans {
                    push(&mut line, span.style, &span.text);
                }
            }
            line
        })
        .collect()
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Span {
    pub style: Style,
    pub text: String,
}

impl Span {
    /// A run of text in `style`.
    pub fn new(style: Style, text: impl Into<String>) -> Span {
        Span {
            style,
            text: text.into(),
        }
    }
}

/// The words of `spans`: runs between spaces, each made of one or more styled pieces
/// ("til **nokkel.example/register**." is one word of two pieces at its end).
fn words(spans: &[Span]) -> Vec<Vec<Span>> {
    let mut words = Vec::new();
    let mut word: Vec<Span> = Vec::new();
    for span in spans {
        let mut pieces = span.text.split(' ').peekable();
        while let Some(piece) = pieces.next() {
            if !piece.is_empty() {
                push(&mut word, span.style, piece);
            }
            // Every piece but the last of a span was followed by a space: a word ends.
            if pieces.peek().is_some() && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Appends `text` in `style`, joining it to the last span when the style is the same.
fn push(line: &mut Vec<Span>, style: Style, text: &str) {
    match line.last_mut() {
        Some(last) if last.style == style => last.text.push_str(text),
        _ => line.push(Span::new(style, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &[Span]) -> String {
        line.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_keeps_styles_and_no_break_spaces() {
        let fonts = Fonts::load().unwrap();
        let spans = [
            Span::new(Style::Regular, "Gå til "),
            Span::new(Style::Bold, "nokkel.example/register"),
            Span::new(
                Style::Regular,
                ". Koden gjelder til og med 7.\u{a0}januar\u{a0}2027.",
            ),
        ];
        let size = 10.0;
        let max = fonts.width(Style::Bold, size, "nokkel.example/register.") + 1.0;
        let lines = fonts.wrap(&spans, size, max);
        let texts: Vec<_> = lines.iter().map(|l| text(l)).collect();
        assert_eq!(texts[0], "Gå til");
        // The full stop stays with the address it follows, in its own style.
        assert_eq!(
            lines[1],
            [
                Span::new(Style::Bold, "nokkel.example/register"),
                Span::new(Style::Regular, ".")
            ]
        );
        assert!(
            texts
                .iter()
                .any(|t| t.contains("7.\u{a0}januar\u{a0}2027.")),
            "{texts:?}"
        );
        assert_eq!(
            texts.join(" "),
            "Gå til nokkel.example/register. Koden gjelder til og med 7.\u{a0}januar\u{a0}2027."
        );
        for line in &lines {
            let width: f32 = line
                .iter()
                .map(|s| fonts.width(s.style, size, &s.text))
                .sum();
            assert!(width <= max, "{line:?} is {width} pt, wider than {max}");
        }
    }

    #[test]
    fn balanced_lines_are_as_many_and_more_even() {
        let fonts = Fonts::load().unwrap();
        let spans = [Span::new(
            Style::Bold,
            "Ikke gi koden til noen. Nøkkel spør aldri etter koden på telefon eller e-post.",
        )];
        let (size, max) = (10.5, 400.0);
        let width = |line: &Vec<Span>| -> f32 {
            line.iter()
                .map(|s| fonts.width(s.style, size, &s.text))
                .sum()
        };
        let greedy = fonts.wrap(&spans, size, max);
        let balanced = fonts.wrap_balanced(&spans, size, max);
        assert_eq!(greedy.len(), 2);
        assert_eq!(balanced.len(), 2);
        let spread = |lines: &[Vec<Span>]| (width(&lines[0]) - width(&lines[1])).abs();
        assert!(spread(&balanced) < spread(&greedy) / 2.0);
        assert!(balanced.iter().all(|l| width(l) <= max));
    }

    #[test]
    fn mono_glyphs_all_have_the_same_advance() {
        let fonts = Fonts::load().unwrap();
        let narrow = fonts.width(Style::Mono, 10.0, "11111");
        let wide = fonts.width(Style::Mono, 10.0, "WMWMW");
        assert!((narrow - wide).abs() < 0.01);
        assert!(
            fonts.width(Style::Regular, 10.0, "11111") < fonts.width(Style::Regular, 10.0, "WMWMW")
        );
    }

    #[test]
    fn every_glyph_knows_its_characters() {
        let fonts = Fonts::load().unwrap();
        let shaped = fonts.shape(Style::Regular, "Łukasz Wójcik, Málaga");
        let covered: usize = shaped.glyphs.iter().map(|g| g.text_range.len()).sum();
        assert_eq!(covered, "Łukasz Wójcik, Málaga".len());
        assert!(
            shaped.glyphs.iter().all(|g| g.glyph_id.to_u32() != 0),
            "no missing glyph"
        );
    }
}
