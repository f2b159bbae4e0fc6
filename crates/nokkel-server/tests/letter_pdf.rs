#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The printed activation letter read back as the people and machines that handle it do:
//! its text as a PDF reader extracts it (`pdftotext`), the recipient's position as the
//! envelope window shows it (`pdftotext -bbox`), and the QR code as a phone scans it (a
//! 200 dpi rendering by `pdftoppm`, decoded by `rqrr`).
//!
//! These tests need poppler-utils; without it they fail and say so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use nokkel_server::i18n::Lang;
use nokkel_server::letter::envelope::recipient_lines;
use nokkel_server::letter::pdf::{render, PrintedLetter};
use nokkel_server::store::{AddressKind, PersonRecord, PersonStatus};

/// One letter to render: who, in which language, with which code.
struct Sample {
    lang: Lang,
    person: PersonRecord,
    code: &'static str,
    reference: &'static str,
}

fn person(given: &str, family: &str, kind: AddressKind, address: [&str; 4]) -> PersonRecord {
    let [line, postal_code, city, country] = address.map(|v| Some(v.to_owned()));
    PersonRecord {
        pid: "14838514058".to_owned(),
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        birth_date: "1985-03-14".to_owned(),
        address_kind: kind,
        address_line: line,
        postal_code,
        city,
        country,
        status: PersonStatus::Resident,
    }
}

/// The demo population's default person, at home in Oslo, in Bokmål.
fn domestic_nb() -> Sample {
    Sample {
        lang: Lang::Nb,
        person: person(
            "Ingrid",
            "Sæther",
            AddressKind::Domestic,
            ["Thorvald Meyers gate 50", "0555", "Oslo", "NO"],
        ),
        code: "7KQ2M-X9DRT-B4HWF",
        reference: "3f9a1c0e5b7d4a2e9c1f0b3d5e7a9c2f",
    }
}

/// A Polish name at a Spanish address, in English.
fn abroad_en() -> Sample {
    Sample {
        lang: Lang::En,
        person: person(
            "Łukasz",
            "Wójcik",
            AddressKind::Foreign,
            ["Calle Larios 8", "29005", "Málaga", "ES"],
        ),
        code: "M3P8V-QZ1TA-6YC0E",
        reference: "b41d07e2c95a4f3e8d16a0c7f2e9b358",
    }
}

/// Tromsø, in Nynorsk.
fn domestic_nn() -> Sample {
    Sample {
        lang: Lang::Nn,
        person: person(
            "Siri",
            "Åsheim",
            AddressKind::Domestic,
            ["Storgata 80", "9008", "Tromsø", "NO"],
        ),
        code: "H5N0W-2RJXG-KD8SB",
        reference: "0c6e2a9f17d84b5ca3e0f9d2b7164e8a",
    }
}

/// The recipient block and the rendered PDF of `sample`.
fn render_sample(sample: &Sample) -> (Vec<String>, Vec<u8>) {
    let recipient = recipient_lines(&sample.person);
    let pdf = render(&PrintedLetter {
        lang: sample.lang,
        recipient: &recipient,
        code_grouped: sample.code,
        letter_date: time::macros::date!(2026 - 12 - 07),
        valid_until: time::macros::date!(2027 - 01 - 06),
        register_url: "https://nokkel.example/register",
        reference: sample.reference,
    })
    .unwrap();
    (recipient, pdf)
}

/// The PDF written to a fresh directory, for the poppler tools.
fn pdf_file(pdf: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("letter.pdf");
    std::fs::write(&path, pdf).unwrap();
    (dir, path)
}

/// Runs a poppler-utils tool on `file` and returns what it prints (`pdftotext` is told
/// to print to standard output). A missing tool fails the test with the fix, never skips
/// it.
fn poppler(tool: &str, args: &[&str], file: &Path) -> String {
    let to_stdout: &[&str] = if tool == "pdftotext" { &["-"] } else { &[] };
    let output = match Command::new(tool)
        .args(args)
        .arg(file)
        .args(to_stdout)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{tool}` is not installed: the letter PDF tests need poppler-utils \
             (apt-get install -y poppler-utils)"
        ),
        Err(e) => panic!("`{tool}` could not be run: {e}"),
    };
    assert!(
        output.status.success(),
        "`{tool}` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `pdftoppm` at `dpi` into `out` (a PNG path without its extension).
fn pdftoppm(file: &Path, dpi: u32, extra: &[&str], out: &Path) -> PathBuf {
    let dpi = dpi.to_string();
    let status = match Command::new("pdftoppm")
        .args(["-r", &dpi, "-png", "-singlefile"])
        .args(extra)
        .arg(file)
        .arg(out)
        .status()
    {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`pdftoppm` is not installed: the letter PDF tests need poppler-utils \
             (apt-get install -y poppler-utils)"
        ),
        Err(e) => panic!("`pdftoppm` could not be run: {e}"),
    };
    assert!(status.success(), "pdftoppm failed");
    out.with_extension("png")
}

/// Text with every run of white space (no-break spaces included) as one space.
fn squeeze(text: &str) -> String {
    text.split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_text_holds(sample: &Sample) {
    let (recipient, pdf) = render_sample(sample);
    let (_dir, file) = pdf_file(&pdf);
    let text = squeeze(&poppler("pdftotext", &["-layout", "-enc", "UTF-8"], &file));
    for line in &recipient {
        assert!(
            text.contains(line.as_str()),
            "{line:?} missing from:\n{text}"
        );
    }
    assert!(
        text.contains(sample.code),
        "the code is missing from:\n{text}"
    );
    let heading = sample.lang.t("letter-heading");
    assert!(text.contains(&heading), "{heading:?} missing from:\n{text}");
    assert!(text.contains(sample.reference), "the reference is missing");
    assert!(
        text.contains("nokkel.example/register"),
        "the register address is missing"
    );
}

#[test]
fn bokmal_letter_holds_name_address_code_and_heading() {
    let sample = domestic_nb();
    assert_text_holds(&sample);
    let (recipient, _) = render_sample(&sample);
    assert_eq!(
        recipient,
        ["Ingrid Sæther", "Thorvald Meyers gate 50", "0555 OSLO"]
    );
}

#[test]
fn english_letter_abroad_holds_foreign_names_and_the_country() {
    let sample = abroad_en();
    assert_text_holds(&sample);
    let (recipient, _) = render_sample(&sample);
    assert_eq!(
        recipient,
        ["Łukasz Wójcik", "Calle Larios 8", "29005 Málaga", "SPANIA"]
    );
}

#[test]
fn nynorsk_letter_is_written_in_nynorsk() {
    let sample = domestic_nn();
    assert_text_holds(&sample);
    let (_, pdf) = render_sample(&sample);
    let (_dir, file) = pdf_file(&pdf);
    let text = squeeze(&poppler("pdftotext", &["-layout"], &file));
    assert!(text.contains("Aktiveringskoden din for Nøkkel"));
    assert!(text.contains("Ikkje gi koden til nokon."), "{text}");
}

/// A word's box on the page, in PDF points from the top left.
#[derive(Debug)]
struct WordBox {
    text: String,
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
}

/// The words of `pdftotext -bbox` output, in reading order.
fn word_boxes(html: &str) -> Vec<WordBox> {
    let attr = |tag: &str, name: &str| -> f32 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    html.split("<word ")
        .skip(1)
        .map(|rest| {
            let (tag, after) = rest.split_once('>').unwrap();
            let (text, _) = after.split_once("</word>").unwrap();
            WordBox {
                text: text
                    .replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\""),
                x_min: attr(tag, "xMin"),
                y_min: attr(tag, "yMin"),
                x_max: attr(tag, "xMax"),
                y_max: attr(tag, "yMax"),
            }
        })
        .collect()
}

/// Every word of every recipient line lies in the envelope window: 20–105 mm from the
/// left, 45–90 mm from the top (DIN 5008 form B).
fn assert_recipient_in_window(sample: &Sample) {
    let (recipient, pdf) = render_sample(sample);
    let (_dir, file) = pdf_file(&pdf);
    let words = word_boxes(&poppler("pdftotext", &["-bbox"], &file));
    let pt = |mm: f32| mm * 72.0 / 25.4;
    let inside = |w: &WordBox| {
        w.x_min >= pt(20.0) && w.x_max <= pt(105.0) && w.y_min >= pt(45.0) && w.y_max <= pt(90.0)
    };
    for line in &recipient {
        let wanted: Vec<&str> = line.split_whitespace().collect();
        let found: Vec<&[WordBox]> = words
            .windows(wanted.len())
            .filter(|run| {
                run.iter()
                    .map(|w| w.text.as_str())
                    .eq(wanted.iter().copied())
            })
            .collect();
        assert!(!found.is_empty(), "{line:?} not found among {words:?}");
        for run in found {
            for word in run {
                assert!(
                    inside(word),
                    "{:?} of {line:?} lies outside the window: x {:.1}–{:.1} mm, y {:.1}–{:.1} mm",
                    word.text,
                    word.x_min * 25.4 / 72.0,
                    word.x_max * 25.4 / 72.0,
                    word.y_min * 25.4 / 72.0,
                    word.y_max * 25.4 / 72.0,
                );
            }
        }
    }
}

#[test]
fn recipient_lies_inside_the_envelope_window() {
    assert_recipient_in_window(&domestic_nb());
    assert_recipient_in_window(&abroad_en());
}

/// Renders the page as a 200 dpi image and reads every QR code on it.
fn scan_qr_codes(pdf: &[u8]) -> Vec<String> {
    let (dir, file) = pdf_file(pdf);
    let png_path = pdftoppm(&file, 200, &[], &dir.path().join("page"));
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        // The first channel: the page is black and white, so red is as good as grey.
        pixels[y * info.line_size + x * channels]
    });
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect()
}

#[test]
fn qr_code_scans_as_exactly_the_code() {
    for sample in [domestic_nb(), abroad_en()] {
        let (_, pdf) = render_sample(&sample);
        assert_eq!(scan_qr_codes(&pdf), [sample.code]);
    }
}

#[test]
fn letter_is_one_a4_page_with_its_fonts_embedded() {
    let (_, pdf) = render_sample(&domestic_nb());
    let (_dir, file) = pdf_file(&pdf);
    let info = poppler("pdfinfo", &[], &file);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    assert_eq!(field("Pages"), Some("1"), "{info}");
    assert_eq!(
        field("Page size"),
        Some("595.276 x 841.89 pts (A4)"),
        "{info}"
    );
    let fonts = poppler("pdffonts", &[], &file);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "regular, bold and mono:\n{fonts}");
    for row in rows {
        // Columns: name, type, encoding, emb, sub, uni, object id.
        let columns: Vec<&str> = row.split_whitespace().collect();
        let flags = &columns[columns.len() - 5..columns.len() - 2];
        assert_eq!(
            flags,
            ["yes", "yes", "yes"],
            "embedded, subset, ToUnicode: {row}"
        );
    }
}

#[test]
fn render_is_quick_and_small() {
    let sample = domestic_nb();
    render_sample(&sample);
    let start = Instant::now();
    let runs = 5;
    let mut size = 0;
    for _ in 0..runs {
        size = render_sample(&sample).1.len();
    }
    let each = start.elapsed() / runs;
    eprintln!("one letter: {each:?}, {size} bytes");
    assert!(size < 200_000, "{size} bytes: the fonts are subset");
}

/// Writes `docs/screenshots/letter-nb.png` and `letter-en-abroad.png` (100 dpi). Run by
/// hand: `cargo test -p nokkel-server --test letter_pdf -- --ignored screenshots`.
#[test]
#[ignore = "writes the documentation's screenshots; run by hand"]
fn screenshots() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    for (sample, name) in [
        (domestic_nb(), "letter-nb"),
        (abroad_en(), "letter-en-abroad"),
    ] {
        let (_, pdf) = render_sample(&sample);
        let (_dir, file) = pdf_file(&pdf);
        let png = pdftoppm(&file, 100, &[], &docs.join(name));
        eprintln!("wrote {}", png.display());
    }
}
