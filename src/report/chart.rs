//! The burn-down chart: each SLO's error budget remaining (percent of its period's budget)
//! through the week, as a PNG drawn with plotters. The font (DejaVu Sans, `assets/`) is
//! embedded in the binary, so the chart looks the same on a host without fonts.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// DejaVu Sans (license in `assets/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family name the chart asks plotters for.
const FAMILY: &str = "sans-serif";
/// Chart size in pixels (the HTML shows it at this width; crisp enough on a laptop).
pub const WIDTH: u32 = 880;
/// Chart height in pixels.
pub const HEIGHT: u32 = 360;

/// Width of the legend column, in pixels.
const LEGEND_WIDTH: u32 = 250;

/// Line colours, chosen to stay apart for colour-blind readers (Okabe-Ito); the legend names
/// every line, so colour is never the only way to tell them apart.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(90, 90, 90),
];

/// Why the chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The embedded font did not load (a broken build).
    #[error("the chart font does not load")]
    Font,
    /// plotters failed to draw.
    #[error("drawing the chart: {0}")]
    Draw(String),
    /// PNG encoding failed.
    #[error("encoding the chart as PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

/// One line: a label and `(unix seconds, budget remaining as a ratio)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `service / slo`.
    pub label: String,
    /// Points in time order.
    pub points: Vec<(i64, f64)>,
}

fn register_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// The chart of `lines` over `[start, end]` (days labelled in `tz`), as PNG bytes.
pub fn burn_down_png(
    lines: &[Line],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
) -> Result<Vec<u8>, ChartError> {
    register_font()?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut rgb, lines, start, end, tz).map_err(|e| ChartError::Draw(e.to_string()))?;
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(png_bytes)
}

fn draw(
    rgb: &mut [u8],
    lines: &[Line],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Error budget remaining over the week (% of each SLO's period budget)",
        (FAMILY, 16).into_font(),
    )?;
    // The legend has its own column, so it never hides a line.
    let (plot, legend) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let hours = ((end - start).num_seconds() as f64 / 3600.0).max(1.0);
    let percents = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|(_, v)| v * 100.0));
    let (low, high) = percents.fold((0.0f64, 100.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Headroom below the lowest line, so a line on the bottom edge stays visible.
    let low = if low < 0.0 {
        (low / 10.0).floor() * 10.0 - 10.0
    } else {
        0.0
    };
    let high = (high / 10.0).ceil() * 10.0;
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..hours, low..high)?;
    let day_label = |h: &f64| {
        let t = start + Duration::seconds((*h * 3600.0) as i64);
        t.with_timezone(&tz).format("%a %d").to_string()
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&day_label)
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style((FAMILY, 13).into_font())
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(214, 214, 214))
        .draw()?;
    // The exhausted line: below it the SLO has spent more than its budget.
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (hours, 0.0)],
        RGBColor(200, 40, 40).stroke_width(1),
    ))?;
    let with_data: Vec<&Line> = lines.iter().filter(|l| !l.points.is_empty()).collect();
    if with_data.is_empty() {
        plot.draw(&Text::new(
            "No budget data for this week",
            ((WIDTH - LEGEND_WIDTH) as i32 / 2 - 110, (HEIGHT / 2) as i32),
            (FAMILY, 16).into_font().color(&RGBColor(90, 90, 90)),
        ))?;
    }
    let x = |t: i64| (t - start.timestamp()) as f64 / 3600.0;
    for (i, line) in with_data.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart.draw_series(LineSeries::new(
            line.points.iter().map(|(t, v)| (x(*t), v * 100.0)),
            color.stroke_width(2),
        ))?;
        let y = 30 + 22 * i as i32;
        if y > HEIGHT as i32 - 40 {
            legend.draw(&Text::new(
                format!("and {} more", with_data.len() - i),
                (8, y),
                (FAMILY, 13).into_font(),
            ))?;
            break;
        }
        legend.draw(&PathElement::new(
            [(8, y + 7), (30, y + 7)],
            color.stroke_width(3),
        ))?;
        let last = line
            .points
            .last()
            .map_or(String::new(), |(_, v)| format!(" ({:.0}%)", v * 100.0));
        let mut label: String = line.label.chars().take(24).collect();
        if line.label.chars().count() > 24 {
            label.push('…');
        }
        legend.draw(&Text::new(
            format!("{label}{last}"),
            (36, y),
            (FAMILY, 13).into_font(),
        ))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_announced_size_even_without_data() {
        let start = DateTime::parse_from_rfc3339("2026-02-09T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let end = start + Duration::days(7);
        let line = Line {
            label: "checkout / availability".into(),
            points: (0..=168)
                .map(|h| (start.timestamp() + h * 3600, 1.0 - h as f64 / 200.0))
                .collect(),
        };
        for lines in [vec![line], vec![]] {
            let png = burn_down_png(&lines, start, end, Tz::UTC).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let decoder = png::Decoder::new(std::io::Cursor::new(&png));
            let reader = decoder.read_info().unwrap();
            assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
        }
    }
}
