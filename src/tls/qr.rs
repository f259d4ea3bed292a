//! `vaultd ca --qr`: a QR code drawn with half-block characters, two module
//! rows per text line, so a phone camera can open the set-up address.

use qrcodegen::{QrCode, QrCodeEcc};

/// The quiet zone the QR specification asks for, in modules.
const QUIET: i32 = 4;

/// The code for `text`. On a terminal it is drawn black on white with ANSI
/// colours, whatever the terminal's own colours (a camera may not read an
/// inverted code); elsewhere with plain characters, dark as `█`.
pub fn render(text: &str, terminal: bool) -> Result<String, String> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| "the set-up address is too long for a QR code".to_string())?;
    let size = code.size();
    let dark =
        |x: i32, y: i32| (0..size).contains(&x) && (0..size).contains(&y) && code.get_module(x, y);
    let mut out = String::new();
    let mut y = -QUIET;
    while y < size + QUIET {
        if terminal {
            out.push_str("\x1b[30;107m");
        }
        for x in -QUIET..size + QUIET {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        if terminal {
            out.push_str("\x1b[0m");
        }
        out.push('\n');
        y += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_code_with_its_quiet_zone() {
        let text = render("http://192.168.1.9:8081/", false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let size = QrCode::encode_text("http://192.168.1.9:8081/", QrCodeEcc::Medium)
            .unwrap()
            .size() as usize;
        let width = size + 2 * QUIET as usize;
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // The quiet zone is blank; the top-left finder's first two rows:
        // all dark, then dark only at its edges.
        assert!(lines[0].trim().is_empty() && lines[1].trim().is_empty());
        let finder: String = lines[2].chars().skip(QUIET as usize).take(8).collect();
        assert_eq!(finder, "█▀▀▀▀▀█ ");
        let colours = render("x", true).unwrap();
        assert!(colours.starts_with("\x1b[30;107m") && colours.contains("\x1b[0m\n"));
    }
}
