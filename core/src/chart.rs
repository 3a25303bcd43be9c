//! The picture `/overview` attaches (docs/domain.md#commands): on the left the funnel AI → SI →
//! A → RTBM → Matched (how many are at each stage now, one bar each), on the right people by the
//! week of their last activity over the last 8 weeks. Pure: numbers in, PNG bytes out.
//!
//! Drawn with plotters into an RGB buffer in memory (its bitmap backend, no image encoder), and
//! encoded with `png`. Text needs a font and the servers have none to rely on: DejaVu Sans is
//! compiled into the binary (the `dejavu` crate's bytes) and registered with plotters' `ab_glyph`
//! renderer, which loads no system font.

use std::fmt::Display;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::text::clip;

/// The picture's size in pixels: wide enough for both panels side by side, small enough to
/// stay a few tens of kilobytes.
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 480;

/// The family plotters' own defaults (axis labels) ask for; ours is registered under it.
const FONT: &str = "sans-serif";

const FUNNEL_COLOR: RGBColor = RGBColor(46, 104, 178);
const WEEKS_COLOR: RGBColor = RGBColor(60, 150, 90);
const INK: RGBColor = RGBColor(40, 40, 40);

/// One bar: what it is, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: i64) -> Self {
        Self {
            label: label.into(),
            value,
        }
    }
}

/// What the overview picture shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Above both panels (the program, the date).
    pub title: String,
    /// AI, SI, A, RTBM, Matched.
    pub funnel: Vec<Bar>,
    /// Oldest week first, labelled by the day it starts.
    pub weeks: Vec<Bar>,
}

/// Registers the embedded font once; false if plotters would not take it.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    })
}

fn drawing<E: Display>(e: E) -> Error {
    Error::Internal(format!("the overview chart could not be drawn: {e}"))
}

/// The overview picture as a PNG of [`WIDTH`] × [`HEIGHT`].
pub fn overview_png(o: &Overview) -> Result<Vec<u8>> {
    if !font_ready() {
        return Err(Error::Internal(
            "the embedded font could not be loaded for the overview chart".into(),
        ));
    }
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut rgb = vec![0u8; w * h * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let root = root
            .titled(&clip(&o.title, 80), (FONT, 22).into_font().color(&INK))
            .map_err(drawing)?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        bars(
            &left,
            "Funnel: people at each stage now",
            &o.funnel,
            FUNNEL_COLOR,
        )?;
        bars(
            &right,
            "Last active, by week (last 8 weeks)",
            &o.weeks,
            WEEKS_COLOR,
        )?;
        root.present().map_err(drawing)?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(drawing)?;
    writer.write_image_data(&rgb).map_err(drawing)?;
    writer.finish().map_err(drawing)?;
    Ok(png)
}

/// A bar chart in `area`: one labelled bar per item, its count written above it.
fn bars(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    items: &[Bar],
    color: RGBColor,
) -> Result<()> {
    let Some(last) = u32::try_from(items.len())
        .ok()
        .and_then(|n| n.checked_sub(1))
    else {
        return Ok(());
    };
    let top = items.iter().map(|b| b.value.max(0)).max().unwrap_or(0);
    // Room above the tallest bar for its number.
    let y_max = (top + top / 5).max(top + 1).max(4);
    let labels: Vec<String> = items.iter().map(|b| clip(&b.label, 12)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(34)
        .y_label_area_size(44)
        .build_cartesian_2d((0u32..last).into_segmented(), 0i64..y_max)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(items.len())
        .y_labels(5)
        .x_label_style((FONT, 13).into_font().color(&INK))
        .y_label_style((FONT, 12).into_font().color(&INK))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                labels.get(*i as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .y_label_formatter(&|v| format!("{v}"))
        .draw()
        .map_err(drawing)?;
    chart
        .draw_series(items.iter().zip(0u32..).map(|(b, i)| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), b.value.max(0)),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 8, 8);
            bar
        }))
        .map_err(drawing)?;
    let above = TextStyle::from((FONT, 14).into_font())
        .color(&INK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(items.iter().zip(0u32..).map(|(b, i)| {
            Text::new(
                b.value.to_string(),
                (SegmentValue::CenterOf(i), b.value.max(0)),
                above.clone(),
            )
        }))
        .map_err(drawing)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Overview {
        Overview {
            title: "Acme/Spring · Tue 01 Dec 2026".into(),
            funnel: ["AI", "SI", "A", "RTBM", "Matched"]
                .iter()
                .zip([7, 5, 12, 3, 4])
                .map(|(l, v)| Bar::new(*l, v))
                .collect(),
            weeks: (0..8)
                .map(|i| Bar::new(format!("{:02} Nov", i + 1), i))
                .collect(),
        }
    }

    type Outcome = std::result::Result<(), Box<dyn std::error::Error>>;

    /// The PNG decoded by the `png` crate: its header, and its pixels.
    fn decode(
        bytes: &[u8],
    ) -> std::result::Result<(png::OutputInfo, Vec<u8>), Box<dyn std::error::Error>> {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info()?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("no buffer size")?];
        let info = reader.next_frame(&mut buf)?;
        buf.truncate(info.buffer_size());
        Ok((info, buf))
    }

    #[test]
    fn the_chart_is_a_png_of_its_size_with_bars_and_text_drawn() -> Outcome {
        let bytes = overview_png(&sample())?;
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(bytes.len() < 200_000, "{} bytes", bytes.len());
        let (info, pixels) = decode(&bytes)?;
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let px = |color: RGBColor| {
            pixels
                .chunks(3)
                .filter(|p| p == &[color.0, color.1, color.2])
                .count()
        };
        // Both panels have bars, and the text (drawn in the ink colour, anti-aliased) is there:
        // the font loaded.
        assert!(px(FUNNEL_COLOR) > 1000, "funnel bars");
        assert!(px(WEEKS_COLOR) > 1000, "week bars");
        assert!(px(INK) > 200, "text");
        Ok(())
    }

    #[test]
    fn empty_counts_and_long_labels_still_draw() -> Outcome {
        let mut o = sample();
        for b in o.funnel.iter_mut().chain(o.weeks.iter_mut()) {
            b.value = 0;
        }
        o.title = "Ω".repeat(500);
        o.weeks[0].label = "x".repeat(300);
        let (info, _) = decode(&overview_png(&o)?)?;
        assert_eq!(info.width, WIDTH);
        o.weeks.clear();
        assert!(overview_png(&o).is_ok());
        Ok(())
    }
}
