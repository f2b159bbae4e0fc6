//! The activation letter as a print-ready PDF: one A4 page, the address placed for a
//! window envelope, the code as text and as a QR code, in the person's language.
//!
//! # Where the address goes
//!
//! The address field follows DIN 5008 form B, the layout made for C5, C4 and E65 (DL)
//! window envelopes: the field starts **20 mm from the left edge and 45 mm from the top,
//! and is 85 mm wide and 45 mm high**; its text starts 5 mm in, at the 25 mm left margin
//! the whole letter shares. Sources: DIN 5008 as summarised in "DIN 5008 von A bis Z –
//! Anschriftenfeld" (din-5008-richtlinien.de/startseite/anschriftenfeld/: a 45 × 85 mm
//! field, form B for window envelopes, at least 8 point in the address zone); the
//! Norwegian windows from "Brevmaler: plassering av mottakerfelt i vinduskonvolutter"
//! (officeconsult.no/blogg/: most windows start 15 mm from the left; a C5 window starts
//! 44 mm from the top and is 35 mm high and 105 mm wide).
//!
//! DIN 5008 puts the return address in the field's upper 17.7 mm and the address below.
//! A Norwegian C5 window ends 79 mm from the top, above the DIN field's end (90 mm), so
//! the one-line return address sits at the top of the field and the recipient follows
//! directly below it: six lines of address end before 79 mm, and the block reads in
//! either window.
//!
//! Posten Norge reads the address by machine. Its rules (as 21grams.se, "Adressera rätt i
//! Norge", gives them): one font and size throughout, 10 to 12 point, not bold, a straight
//! left edge, single or 1.5 line spacing, no blank lines, the return address on one line
//! and no larger than the address. A line too wide for the window at 10 point is set
//! smaller, down to 8 point, rather than cut by the window's edge; an address that still
//! does not fit is refused ([`PdfError::RecipientTooWide`]) so that it is handled by
//! hand, not posted unreadable.

use std::fmt;

use krilla::color::{luma, rgb};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, LineCap, Paint, Stroke};
use krilla::surface::Surface;
use krilla::Document;
use qrcode::{EcLevel, QrCode};

use super::typeset::{Fonts, Span, Style};
use crate::i18n::Lang;

/// One activation letter, ready to print: what [`render`] needs and nothing more.
///
/// Its `Debug` shows neither the code nor the recipient.
pub struct PrintedLetter<'a> {
    /// The language the letter is written in: the person's.
    pub lang: Lang,
    /// The recipient block, from [`super::envelope::recipient_lines`]: name first.
    pub recipient: &'a [String],
    /// The activation code, grouped as the person types it ("ABCDE-FGHJK-MNPQ7").
    /// A secret until it is used: it is printed and put in the QR code, nowhere else.
    pub code_grouped: &'a str,
    /// The date the letter is printed with.
    pub letter_date: time::Date,
    /// The last day the code can be used.
    pub valid_until: time::Date,
    /// Where to register in a browser, e.g. `https://nokkel.example/register`.
    pub register_url: &'a str,
    /// The letter's id, printed small so that user support can find the letter.
    pub reference: &'a str,
}

impl fmt::Debug for PrintedLetter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrintedLetter")
            .field("lang", &self.lang)
            .field("recipient_lines", &self.recipient.len())
            .field("code_grouped", &"<redacted>")
            .field("letter_date", &self.letter_date)
            .field("valid_until", &self.valid_until)
            .field("register_url", &self.register_url)
            .field("reference", &self.reference)
            .finish()
    }
}

/// Why a letter could not be made into a PDF. Never carries the code or the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    /// The recipient block is empty.
    #[error("the letter has no recipient")]
    NoRecipient,
    /// The recipient block has more lines than the envelope window shows.
    #[error("the recipient block has {lines} lines; the envelope window shows {max}")]
    RecipientTooLong {
        /// Lines in the block.
        lines: usize,
        /// Lines the window shows.
        max: usize,
    },
    /// A recipient line is wider than the envelope window even at the smallest size.
    #[error("a recipient line is too wide for the envelope window")]
    RecipientTooWide,
    /// The activation code cannot be made into a QR code.
    #[error("the activation code does not fit in a QR code")]
    QrCode,
    /// A compiled-in font could not be read (a broken build).
    #[error("a compiled-in font could not be read")]
    Font,
    /// The PDF writer failed.
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// Millimetres to PDF points.
fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

/// PDF points to millimetres.
fn points_to_mm(v: f32) -> f32 {
    v * 25.4 / 72.0
}

/// A4 portrait, in millimetres.
const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
/// The text column: every line starts at the left margin, nothing passes the right one.
const LEFT: f32 = 25.0;
const RIGHT: f32 = 185.0;

/// The envelope window's address field (DIN 5008 form B), in millimetres.
const WINDOW_RIGHT: f32 = 20.0 + 85.0;
/// The return address's baseline, near the top of the field.
const SENDER_BASELINE: f32 = 51.0;
/// The recipient's first baseline, directly below the return address.
const RECIPIENT_BASELINE: f32 = 56.5;
/// The most lines the window shows: DIN 5008's address zone.
const RECIPIENT_MAX_LINES: usize = 6;
/// Point sizes for the recipient, largest first: Posten's 10 point, smaller only to fit.
const RECIPIENT_SIZES: [f32; 5] = [10.0, 9.5, 9.0, 8.5, 8.0];
/// The information block right of the window (DIN 5008: 125 mm from the left).
const INFO_LEFT: f32 = 125.0;
/// The QR code's side, quiet zone included.
const QR_SIZE: f32 = 37.0;
/// The QR code's quiet zone, in modules (the QR standard's minimum).
const QR_QUIET_ZONE: usize = 4;

/// The brand's dark blue, as in `assets/brand/nokkel-mark.svg`.
fn brand_blue() -> Paint {
    rgb::Color::new(0x08, 0x3b, 0x7a).into()
}

fn black() -> Paint {
    luma::Color::black().into()
}

/// Labels and small print: dark enough to read, lighter than the text.
fn grey() -> Paint {
    luma::Color::new(85).into()
}

/// Renders one activation letter as a one-page A4 PDF.
pub fn render(letter: &PrintedLetter<'_>) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::load()?;
    let recipient_size = recipient_size(&fonts, letter.recipient)?;
    let qr = QrCode::with_error_correction_level(letter.code_grouped.as_bytes(), EcLevel::M)
        .map_err(|_| PdfError::QrCode)?;

    let lang = letter.lang;
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("{} – Nøkkel", lang.t("letter-title")))
            .language(lang.tag().to_owned())
            .creator("Nøkkel".to_owned())
            .creation_date(
                DateTime::new(u16::try_from(letter.letter_date.year()).unwrap_or(0))
                    .month(u8::from(letter.letter_date.month()))
                    .day(letter.letter_date.day()),
            ),
    );
    let settings = PageSettings::from_wh(mm(PAGE_WIDTH), mm(PAGE_HEIGHT))
        .ok_or_else(|| PdfError::Write("A4 is not a page size".to_owned()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let mut canvas = Canvas {
        surface: &mut surface,
        fonts: &fonts,
    };

    canvas.fold_marks();
    canvas.letterhead(lang);
    canvas.address_field(lang, letter.recipient, recipient_size);
    canvas.info_block(lang, letter);
    let mut y = canvas.introduction(lang);
    y = canvas.code_box(lang, letter, &qr, y);
    y = canvas.steps(lang, letter.register_url, y);
    y = canvas.warning(lang, y);
    canvas.other_language(lang, letter.register_url, y);
    canvas.footer(lang);

    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| PdfError::Write(e.to_string()))
}

/// The largest of [`RECIPIENT_SIZES`] at which every recipient line fits the window.
fn recipient_size(fonts: &Fonts, lines: &[String]) -> Result<f32, PdfError> {
    if lines.is_empty() {
        return Err(PdfError::NoRecipient);
    }
    if lines.len() > RECIPIENT_MAX_LINES {
        return Err(PdfError::RecipientTooLong {
            lines: lines.len(),
            max: RECIPIENT_MAX_LINES,
        });
    }
    let room = mm(WINDOW_RIGHT - LEFT);
    RECIPIENT_SIZES
        .into_iter()
        .find(|&size| {
            lines
                .iter()
                .all(|line| fonts.width(Style::Regular, size, line) <= room)
        })
        .ok_or(PdfError::RecipientTooWide)
}

/// How a paragraph is set, in millimetres and points.
struct Setting {
    /// Where its lines start.
    x: f32,
    /// How wide its lines may be.
    width: f32,
    /// Point size.
    size: f32,
    /// Baseline to baseline.
    leading: f32,
    paint: Paint,
    /// Lines of even length rather than as full as they go.
    balanced: bool,
}

impl Setting {
    /// Running text: 10.5 point, black.
    fn body(x: f32, width: f32) -> Setting {
        Setting {
            x,
            width,
            size: 10.5,
            leading: 5.2,
            paint: black(),
            balanced: false,
        }
    }

    fn lines(&self, fonts: &Fonts, spans: &[Span]) -> Vec<Vec<Span>> {
        if self.balanced {
            fonts.wrap_balanced(spans, self.size, mm(self.width))
        } else {
            fonts.wrap(spans, self.size, mm(self.width))
        }
    }
}

/// The page being drawn, with the letter's fonts.
struct Canvas<'s, 'p> {
    surface: &'s mut Surface<'p>,
    fonts: &'s Fonts,
}

impl Canvas<'_, '_> {
    /// Draws `text` with its baseline at (`x`, `y`) millimetres; returns its width in
    /// millimetres.
    fn text(&mut self, x: f32, y: f32, style: Style, size: f32, paint: Paint, text: &str) -> f32 {
        let shaped = self.fonts.shape(style, text);
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(fill(paint)));
        self.surface.draw_glyphs(
            Point::from_xy(mm(x), mm(y)),
            &shaped.glyphs,
            self.fonts.pdf_font(style),
            text,
            size,
            false,
        );
        points_to_mm(shaped.width_em * size)
    }

    /// Draws `text` ending at `right` millimetres.
    fn text_right(
        &mut self,
        right: f32,
        y: f32,
        style: Style,
        size: f32,
        paint: Paint,
        text: &str,
    ) {
        let width = points_to_mm(self.fonts.width(style, size, text));
        self.text(right - width, y, style, size, paint, text);
    }

    /// Sets `spans` as `setting` says, the first baseline at `y` millimetres. Returns the
    /// last baseline.
    fn paragraph(&mut self, setting: &Setting, y: f32, spans: &[Span]) -> f32 {
        let mut baseline = y;
        for (i, line) in setting.lines(self.fonts, spans).iter().enumerate() {
            baseline = y + setting.leading * i as f32;
            let mut left = setting.x;
            for span in line {
                left += self.text(
                    left,
                    baseline,
                    span.style,
                    setting.size,
                    setting.paint.clone(),
                    &span.text,
                );
            }
        }
        baseline
    }

    /// Fills (and optionally strokes) a rectangle given in millimetres.
    fn rect(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill_paint: Option<Paint>,
        stroke: Option<(Paint, f32)>,
    ) {
        let Some(rect) = Rect::from_xywh(mm(x), mm(y), mm(w), mm(h)) else {
            return;
        };
        let mut path = PathBuilder::new();
        path.push_rect(rect);
        let Some(path) = path.finish() else {
            return;
        };
        self.surface.set_fill(fill_paint.map(fill));
        self.surface.set_stroke(stroke.map(|(paint, width)| Stroke {
            paint,
            width,
            ..Stroke::default()
        }));
        self.surface.draw_path(&path);
    }

    /// A horizontal hairline from `x1` to `x2` at `y` millimetres.
    fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, paint: Paint) {
        let mut path = PathBuilder::new();
        path.move_to(mm(x1), mm(y));
        path.line_to(mm(x2), mm(y));
        let Some(path) = path.finish() else {
            return;
        };
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            paint,
            width,
            ..Stroke::default()
        }));
        self.surface.draw_path(&path);
    }

    /// DIN 5008 form B's fold marks (105 and 210 mm) and the punch mark (148.5 mm) at the
    /// left edge, for folding by hand into a DL or C5 envelope.
    fn fold_marks(&mut self) {
        let light = || -> Paint { luma::Color::new(150).into() };
        self.rule(4.0, 9.0, 105.0, 0.4, light());
        self.rule(4.0, 11.0, 148.5, 0.4, light());
        self.rule(4.0, 9.0, 210.0, 0.4, light());
    }

    /// The brand mark, the name and the tagline; the letter's kind on the right.
    fn letterhead(&mut self, lang: Lang) {
        self.brand_mark(LEFT, 13.0, 13.0);
        self.text(LEFT + 16.5, 21.5, Style::Bold, 20.0, brand_blue(), "Nøkkel");
        self.text(
            LEFT + 16.5,
            26.0,
            Style::Regular,
            8.5,
            grey(),
            &lang.t("site-tagline"),
        );
        self.text_right(
            RIGHT,
            21.5,
            Style::Regular,
            9.0,
            grey(),
            &lang.t("letter-title"),
        );
        self.rule(LEFT, RIGHT, 32.0, 0.5, luma::Color::new(190).into());
    }

    /// `assets/brand/nokkel-mark.svg` drawn with paths: a white key on a dark blue
    /// rounded square, `size` millimetres wide, top left at (`x`, `y`).
    fn brand_mark(&mut self, x: f32, y: f32, size: f32) {
        // The SVG's 1024 units to points.
        let unit = mm(size) / 1024.0;
        let (ox, oy) = (mm(x), mm(y));
        let at = |u: f32, v: f32| (ox + u * unit, oy + v * unit);

        let mut square = PathBuilder::new();
        rounded_square(&mut square, ox, oy, 1024.0 * unit, 220.0 * unit);
        if let Some(path) = square.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(fill(brand_blue())));
            self.surface.draw_path(&path);
        }

        let mut key = PathBuilder::new();
        let (cx, cy) = at(360.0, 512.0);
        circle(&mut key, cx, cy, 150.0 * unit);
        for (from, to) in [
            ((510.0, 512.0), (820.0, 512.0)),
            ((720.0, 512.0), (720.0, 622.0)),
            ((820.0, 512.0), (820.0, 592.0)),
        ] {
            let (x1, y1) = at(from.0, from.1);
            let (x2, y2) = at(to.0, to.1);
            key.move_to(x1, y1);
            key.line_to(x2, y2);
        }
        if let Some(path) = key.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: luma::Color::white().into(),
                width: 88.0 * unit,
                line_cap: LineCap::Round,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
        }

        let mut dot = PathBuilder::new();
        circle(&mut dot, cx, cy, 46.0 * unit);
        if let Some(path) = dot.finish() {
            self.surface.set_stroke(None);
            self.surface
                .set_fill(Some(fill(luma::Color::white().into())));
            self.surface.draw_path(&path);
        }
    }

    /// The return address and the recipient, in the envelope window.
    fn address_field(&mut self, lang: Lang, recipient: &[String], size: f32) {
        self.text(
            LEFT,
            SENDER_BASELINE,
            Style::Regular,
            7.0,
            black(),
            &lang.t("letter-sender"),
        );
        // Single line spacing: 1.2 times the size.
        let leading = points_to_mm(size * 1.2);
        for (i, line) in recipient.iter().enumerate() {
            let y = RECIPIENT_BASELINE + leading * i as f32;
            self.text(LEFT, y, Style::Regular, size, black(), line);
        }
    }

    /// The date and the reference, right of the window.
    fn info_block(&mut self, lang: Lang, letter: &PrintedLetter<'_>) {
        self.text(
            INFO_LEFT,
            SENDER_BASELINE + 5.5,
            Style::Regular,
            7.5,
            grey(),
            &lang.t("letter-date-label"),
        );
        self.text(
            INFO_LEFT,
            SENDER_BASELINE + 10.0,
            Style::Regular,
            10.0,
            black(),
            &lang.date(letter.letter_date),
        );
        self.text(
            INFO_LEFT,
            SENDER_BASELINE + 16.5,
            Style::Regular,
            7.5,
            grey(),
            &lang.t("letter-reference-label"),
        );
        // A letter id is 32 hex digits; anything longer is set smaller, not into the margin.
        let room = mm(RIGHT - INFO_LEFT);
        let natural = self.fonts.width(Style::Regular, 8.5, letter.reference);
        let size = if natural > room {
            8.5 * room / natural
        } else {
            8.5
        };
        self.text(
            INFO_LEFT,
            SENDER_BASELINE + 21.0,
            Style::Regular,
            size,
            black(),
            letter.reference,
        );
    }

    /// The heading and the introduction; returns the last baseline.
    fn introduction(&mut self, lang: Lang) -> f32 {
        self.text(
            LEFT,
            104.0,
            Style::Bold,
            17.0,
            black(),
            &lang.t("letter-heading"),
        );
        self.paragraph(
            &Setting::body(LEFT, RIGHT - LEFT),
            112.5,
            &[Span::new(Style::Regular, lang.t("letter-intro"))],
        )
    }

    /// The framed code: label, code, validity, and the QR code beside them. Returns the
    /// box's bottom.
    fn code_box(&mut self, lang: Lang, letter: &PrintedLetter<'_>, qr: &QrCode, after: f32) -> f32 {
        let top = after + 7.0;
        let height = 47.0;
        self.rect(LEFT, top, RIGHT - LEFT, height, None, Some((black(), 1.2)));

        let qr_left = RIGHT - QR_SIZE - 2.0;
        self.qr_code(qr, qr_left, top + 1.5);
        let caption = lang.t("letter-qr-caption");
        let caption_width = points_to_mm(self.fonts.width(Style::Regular, 7.5, &caption));
        self.text(
            qr_left + (QR_SIZE - caption_width) / 2.0,
            top + height - 4.0,
            Style::Regular,
            7.5,
            grey(),
            &caption,
        );

        let x = LEFT + 8.0;
        self.text(
            x,
            top + 12.0,
            Style::Bold,
            10.5,
            black(),
            &lang.t("letter-code-label"),
        );
        self.text(
            x,
            top + 24.0,
            Style::Mono,
            24.0,
            black(),
            letter.code_grouped,
        );
        let valid = lang.t_args(
            "letter-valid-until",
            &[("date", lang.date(letter.valid_until))],
        );
        let setting = Setting {
            size: 9.5,
            leading: 4.6,
            balanced: true,
            ..Setting::body(x, qr_left - 6.0 - x)
        };
        self.paragraph(&setting, top + 33.0, &[Span::new(Style::Regular, valid)]);
        top + height
    }

    /// The QR code as filled rectangles, one per run of dark modules in a row, inside a
    /// white quiet zone; `QR_SIZE` millimetres wide, top left at (`x`, `y`).
    fn qr_code(&mut self, qr: &QrCode, x: f32, y: f32) {
        let n = qr.width();
        let colors = qr.to_colors();
        let module = mm(QR_SIZE) / (n + 2 * QR_QUIET_ZONE) as f32;
        let origin = |col: usize, row: usize| {
            (
                mm(x) + (col + QR_QUIET_ZONE) as f32 * module,
                mm(y) + (row + QR_QUIET_ZONE) as f32 * module,
            )
        };
        let mut path = PathBuilder::new();
        for (row, modules) in colors.chunks(n).enumerate() {
            let mut col = 0;
            while col < n {
                if modules[col] != qrcode::Color::Dark {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < n && modules[col] == qrcode::Color::Dark {
                    col += 1;
                }
                let (left, top) = origin(start, row);
                if let Some(rect) =
                    Rect::from_xywh(left, top, (col - start) as f32 * module, module)
                {
                    path.push_rect(rect);
                }
            }
        }
        if let Some(path) = path.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(fill(black())));
            self.surface.draw_path(&path);
        }
    }

    /// "What to do": three numbered steps. Returns the last baseline.
    fn steps(&mut self, lang: Lang, register_url: &str, after: f32) -> f32 {
        let mut y = after + 11.0;
        self.text(
            LEFT,
            y,
            Style::Bold,
            12.5,
            black(),
            &lang.t("letter-steps-heading"),
        );
        y += 8.5;
        let url = display_url(register_url);
        let steps = [
            with_bold(&lang, "letter-step-1", "url", url),
            vec![Span::new(Style::Regular, lang.t("letter-step-2"))],
            vec![Span::new(Style::Regular, lang.t("letter-step-3"))],
        ];
        let mut last = y;
        for (number, spans) in steps.iter().enumerate() {
            self.step_number(number + 1, y);
            last = self.paragraph(&Setting::body(LEFT + 9.0, RIGHT - LEFT - 9.0), y, spans);
            y = last + 8.0;
        }
        last
    }

    /// A step's number, white on a black disc, centred on the first line's x-height.
    fn step_number(&mut self, number: usize, baseline: f32) {
        let (cx, cy, r) = (LEFT + 2.9, baseline - 1.35, 2.9);
        let mut disc = PathBuilder::new();
        circle(&mut disc, mm(cx), mm(cy), mm(r));
        if let Some(path) = disc.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(fill(black())));
            self.surface.draw_path(&path);
        }
        let label = number.to_string();
        let width = points_to_mm(self.fonts.width(Style::Bold, 9.5, &label));
        self.text(
            cx - width / 2.0,
            baseline - 0.2,
            Style::Bold,
            9.5,
            luma::Color::white().into(),
            &label,
        );
    }

    /// Never give the code to anyone: bold, on a tint, with a bar on the left. Returns
    /// the box's bottom.
    fn warning(&mut self, lang: Lang, after: f32) -> f32 {
        let top = after + 8.0;
        let text_left = LEFT + 7.0;
        let spans = [Span::new(Style::Bold, lang.t("letter-warning"))];
        let setting = Setting {
            balanced: true,
            ..Setting::body(text_left, RIGHT - 6.0 - text_left)
        };
        let lines = setting.lines(self.fonts, &spans).len().max(1);
        let height = 8.0 + setting.leading * lines as f32;
        self.rect(
            LEFT,
            top,
            RIGHT - LEFT,
            height,
            Some(luma::Color::new(236).into()),
            None,
        );
        self.rect(LEFT, top, 1.6, height, Some(black()), None);
        self.paragraph(&setting, top + 7.6, &spans);
        top + height
    }

    /// A short note in the other language (English in Norwegian letters, Norwegian in
    /// English ones), for whoever helps the person read the letter.
    fn other_language(&mut self, lang: Lang, register_url: &str, after: f32) {
        let spans = [Span::new(
            Style::Regular,
            lang.t_args(
                "letter-other-language",
                &[("url", display_url(register_url).to_owned())],
            ),
        )];
        let setting = Setting {
            size: 8.5,
            leading: 4.2,
            paint: grey(),
            ..Setting::body(LEFT, RIGHT - LEFT)
        };
        self.paragraph(&setting, after + 10.0, &spans);
    }

    /// The sender and user support, above the bottom edge.
    fn footer(&mut self, lang: Lang) {
        self.rule(LEFT, RIGHT, 279.0, 0.5, luma::Color::new(190).into());
        self.text(
            LEFT,
            284.0,
            Style::Regular,
            7.5,
            grey(),
            &lang.t("letter-sender"),
        );
        self.text_right(
            RIGHT,
            284.0,
            Style::Regular,
            7.5,
            grey(),
            &lang.t("letter-support"),
        );
    }
}

fn fill(paint: Paint) -> Fill {
    Fill {
        paint,
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// The register address as a person types it: without `https://`.
fn display_url(url: &str) -> &str {
    url.strip_prefix("https://").unwrap_or(url)
}

/// The message `key` with its argument `name` set in bold.
fn with_bold(lang: &Lang, key: &str, name: &str, value: &str) -> Vec<Span> {
    // A private-use character marks where the argument goes; it never occurs in our
    // translations.
    const MARK: &str = "\u{e000}";
    let text = lang.t_args(key, &[(name, MARK.to_owned())]);
    let mut spans = Vec::new();
    for (i, part) in text.split(MARK).enumerate() {
        if i > 0 {
            spans.push(Span::new(Style::Bold, value));
        }
        if !part.is_empty() {
            spans.push(Span::new(Style::Regular, part));
        }
    }
    spans
}

/// A circle as four cubic Béziers (the usual 0.5523 control-point factor).
fn circle(path: &mut PathBuilder, cx: f32, cy: f32, r: f32) {
    let k = 0.552_284_8 * r;
    path.move_to(cx + r, cy);
    path.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    path.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    path.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    path.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    path.close();
}

/// A square with rounded corners, top left at (`x`, `y`).
fn rounded_square(path: &mut PathBuilder, x: f32, y: f32, side: f32, r: f32) {
    let k = 0.552_284_8 * r;
    let (right, bottom) = (x + side, y + side);
    path.move_to(x + r, y);
    path.line_to(right - r, y);
    path.cubic_to(right - r + k, y, right, y + r - k, right, y + r);
    path.line_to(right, bottom - r);
    path.cubic_to(
        right,
        bottom - r + k,
        right - r + k,
        bottom,
        right - r,
        bottom,
    );
    path.line_to(x + r, bottom);
    path.cubic_to(x + r - k, bottom, x, bottom - r + k, x, bottom - r);
    path.line_to(x, y + r);
    path.cubic_to(x, y + r - k, x + r - k, y, x + r, y);
    path.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter<'a>(recipient: &'a [String]) -> PrintedLetter<'a> {
        PrintedLetter {
            lang: Lang::Nb,
            recipient,
            code_grouped: "ABCDE-FGHJK-MNPQ7",
            letter_date: time::macros::date!(2026 - 12 - 07),
            valid_until: time::macros::date!(2027 - 01 - 06),
            register_url: "https://nokkel.example/register",
            reference: "L-42",
        }
    }

    #[test]
    fn debug_shows_neither_code_nor_address() {
        let recipient = vec![
            "Ingrid Sæther".to_owned(),
            "Thorvald Meyers gate 50".to_owned(),
        ];
        let shown = format!("{:?}", letter(&recipient));
        assert!(!shown.contains("ABCDE"), "{shown}");
        assert!(!shown.contains("Sæther"), "{shown}");
        assert!(shown.contains("L-42"));
    }

    #[test]
    fn a_long_line_is_set_smaller_and_one_too_long_is_refused() {
        let fonts = Fonts::load().unwrap();
        let short = ["Ola Nordmann".to_owned()];
        assert_eq!(recipient_size(&fonts, &short), Ok(10.0));
        // 90 mm at 10 point; the window has 80 mm beside the margin.
        let long = ["Marie-Christine Aleksandra Christophersen-Øverbø".to_owned()];
        assert_eq!(recipient_size(&fonts, &long), Ok(8.5));
        let too_long = ["Karl-Johan Alexander Christophersen-Øverbø Haugland Sørensen".to_owned()];
        assert_eq!(
            recipient_size(&fonts, &too_long),
            Err(PdfError::RecipientTooWide)
        );
        assert_eq!(recipient_size(&fonts, &[]), Err(PdfError::NoRecipient));
        let seven = vec!["x".to_owned(); 7];
        assert_eq!(
            recipient_size(&fonts, &seven),
            Err(PdfError::RecipientTooLong { lines: 7, max: 6 })
        );
    }

    #[test]
    fn the_register_address_is_bold_inside_its_sentence() {
        let spans = with_bold(&Lang::En, "letter-step-1", "url", "nokkel.example/register");
        assert_eq!(
            spans,
            [
                Span::new(Style::Regular, "Download the Nøkkel app, or go to "),
                Span::new(Style::Bold, "nokkel.example/register"),
                Span::new(Style::Regular, "."),
            ]
        );
    }

    #[test]
    fn renders_a_pdf() {
        let recipient = vec!["Ingrid Sæther".to_owned(), "0555 OSLO".to_owned()];
        let pdf = render(&letter(&recipient)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
