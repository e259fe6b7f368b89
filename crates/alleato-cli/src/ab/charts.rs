//! The report's charts, as SVG (plotters): latency percentiles per operation for A and B, and
//! requests per second over the run.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use super::report::{Report, median_summary as median};
use super::stats::Summary;

const A_COLOR: RGBColor = RGBColor(59, 91, 219);
const B_COLOR: RGBColor = RGBColor(230, 119, 0);

/// `latency.svg`: for each operation, p50 and p99 (median over rounds) of A and B, on a
/// logarithmic scale of milliseconds.
pub fn latency(report: &Report, path: &Path) -> anyhow::Result<()> {
    let rows: Vec<(String, Option<Summary>, Option<Summary>)> =
        report.operations.iter().map(|op| (op.name.clone(), median(&op.rounds.a), median(&op.rounds.b))).collect();
    let values = rows.iter().flat_map(|(_, a, b)| [a, b]).flatten().flat_map(|s| [s.p50_ms, s.p99_ms]);
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low > high { (0.1, 10.0) } else { ((low / 2.0).max(0.01), high * 2.0) };
    let width = (rows.len() as u32 * 90).max(640) + 120;
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let n = rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("Latency per operation: p50 (light) and p99 (dark), A blue, B orange", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, (low..high).log_scale())
        .map_err(|e| anyhow!("{e}"))?;
    let names: Vec<String> = rows.iter().map(|(name, _, _)| name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("milliseconds (log)")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (i, (_, a, b)) in rows.iter().enumerate() {
        let x = i as f64;
        for (offset, summary, color) in [(-0.4, a, A_COLOR), (0.0, b, B_COLOR)] {
            let Some(s) = summary else { continue };
            let bar = |from: f64, value: f64, style: ShapeStyle| {
                Rectangle::new([(x + from, low), (x + from + 0.18, value)], style)
            };
            chart
                .draw_series([
                    bar(offset, s.p99_ms, color.filled()),
                    bar(offset + 0.19, s.p50_ms, color.mix(0.45).filled()),
                ])
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// `throughput.svg`: requests completed per second, A and B, round after round.
pub fn throughput(report: &Report, path: &Path) -> anyhow::Result<()> {
    let series = |rounds: &[Vec<u64>]| -> Vec<(f64, f64)> {
        let mut t = 0.0;
        let mut points = Vec::new();
        for round in rounds {
            for &n in round {
                points.push((t, n as f64));
                t += 1.0;
            }
        }
        points
    };
    let (a, b) = (series(&report.throughput_over_time.a), series(&report.throughput_over_time.b));
    let seconds = a.len().max(b.len()).max(2) as f64;
    let top = a.iter().chain(&b).map(|(_, y)| *y).fold(1.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Requests completed per second (rounds one after another)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..seconds - 1.0, 0.0..top)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("measured seconds")
        .y_desc("requests per second")
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (points, color, label) in [(a, A_COLOR, "A"), (b, B_COLOR, "B")] {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
