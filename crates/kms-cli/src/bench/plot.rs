//! `kms bench --report`: the runs drawn as SVG (or SVG inside an HTML page beside the
//! table): latency against percentile from p0 to p99.99 on log scales, one series per
//! operation and thread count, so an HSM's tails show at a glance; and throughput against
//! threads, one series per operation. The JSON report stays the machine-readable form.

use std::path::Path;

use kms_core::{KmsError, Result};
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

use super::report::{CURVE_NINES, RunResult, RunSettings, to_table};

/// The drawing's size in pixels.
const SIZE: (u32, u32) = (1000, 1150);

/// Height of the latency chart; the throughput chart takes the rest.
const LATENCY_HEIGHT: u32 = 700;

/// Writes the plot of `results` to `path`: SVG, or an HTML page when it ends in `.html`.
///
/// # Errors
/// [`KmsError::Backend`] when drawing fails, [`KmsError::Store`] when writing does.
pub(crate) fn write(path: &Path, settings: &RunSettings, results: &[RunResult]) -> Result<()> {
    let svg = draw(settings, results)
        .map_err(|error| KmsError::Backend(format!("drawing --report: {error}")))?;
    let text = if path
        .extension()
        .is_some_and(|extension| extension == "html")
    {
        html_page(settings, results, &svg)
    } else {
        svg
    };
    std::fs::write(path, text)
        .map_err(|error| KmsError::Store(format!("writing {}: {error}", path.display())))
}

/// The label of a point `nines` along the percentile axis: 0 is p0, 1 is p90, 2 is p99…
fn percentile_label(nines: f64) -> String {
    if nines <= 0.0 {
        return "p0".into();
    }
    let percent = 100.0 * (1.0 - 10f64.powf(-nines));
    let digits = (nines.round() as usize).saturating_sub(2);
    format!("p{percent:.digits$}")
}

/// A thread-count tick's label: whole numbers only.
fn whole_number_label(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        String::new()
    }
}

/// A series' label.
fn series_label(result: &RunResult) -> String {
    format!("{} x{}", result.op, result.threads)
}

/// Both charts as one SVG document.
fn draw(
    settings: &RunSettings,
    results: &[RunResult],
) -> std::result::Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let (upper, lower) = root.split_vertically(LATENCY_HEIGHT);
        draw_latency(&upper, settings, results)?;
        draw_throughput(&lower, results)?;
        root.present()?;
    }
    Ok(svg)
}

/// Latency against percentile, log scales, one line per run.
fn draw_latency(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    settings: &RunSettings,
    results: &[RunResult],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let values = || {
        results
            .iter()
            .flat_map(|result| result.percentile_curve.iter().map(|&(_, us)| us))
    };
    let low = values().fold(f64::INFINITY, f64::min);
    let high = values().fold(0.0, f64::max);
    let (low, high) = if low.is_finite() && low > 0.0 {
        (low / 1.5, high * 1.5)
    } else {
        (1.0, 10.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Latency by percentile: {}", settings.backend),
            ("sans-serif", 22),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..f64::from(CURVE_NINES), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(CURVE_NINES as usize + 1)
        .x_label_formatter(&|nines| percentile_label(*nines))
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .y_label_formatter(&|us| format!("{us:.0}"))
        .draw()?;
    for (index, result) in results.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                result.percentile_curve.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(series_label(result))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    draw_legend(&mut chart)
}

/// Throughput against threads, one line per operation.
fn draw_throughput(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    results: &[RunResult],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let threads = || results.iter().map(|result| result.threads as f64);
    let fewest = threads().fold(f64::INFINITY, f64::min).min(1.0);
    let most = threads().fold(1.0, f64::max).max(fewest + 1.0);
    let fastest = results
        .iter()
        .map(RunResult::ops_per_sec)
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput by thread count", ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(fewest..most, 0f64..fastest * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("threads (connections)")
        .y_desc("operations/s")
        .x_label_formatter(&|threads| whole_number_label(*threads))
        .y_label_formatter(&|ops| format!("{ops:.0}"))
        .draw()?;
    let mut ops: Vec<&str> = results.iter().map(|result| result.op).collect();
    ops.dedup();
    for (index, op) in ops.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let points: Vec<(f64, f64)> = results
            .iter()
            .filter(|result| result.op == op)
            .map(|result| (result.threads as f64, result.ops_per_sec()))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(op)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart.draw_series(
            points
                .into_iter()
                .map(|point| Circle::new(point, 4, color.filled())),
        )?;
    }
    draw_legend(&mut chart)
}

/// The chart's legend: one line per series, upper left.
fn draw_legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// An HTML page holding the plot and the table.
fn html_page(settings: &RunSettings, results: &[RunResult], svg: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>kms bench: {backend}</title>\n</head>\n<body>\n<h1>kms bench: {backend}</h1>\n\
         {svg}\n<pre>{table}</pre>\n</body>\n</html>\n",
        backend = escape(&settings.backend),
        table = escape(&to_table(settings, results)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_axis_is_labelled_in_nines() {
        let labels: Vec<String> = (0..=4)
            .map(|nines| percentile_label(f64::from(nines)))
            .collect();
        assert_eq!(labels, ["p0", "p90", "p99", "p99.9", "p99.99"]);
    }
}
