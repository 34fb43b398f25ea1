//! `--plot FILE.svg`: every backend's latency distribution on one chart, drawn with `plotters`:
//! the share of toggles at or under each latency (a cumulative curve per backend), latency on
//! a log scale, so backends a thousand times apart read side by side.

use std::path::Path;

use plotters::prelude::*;

use super::report::{nanos, Report};

/// Refuses a plot path that is not an `.svg` file in an existing directory, before the run.
pub fn check_path(path: &Path) -> Result<(), String> {
    if path.extension().and_then(|e| e.to_str()) != Some("svg") {
        return Err(format!(
            "--plot {}: the plot is an SVG file: give a path ending in .svg",
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "--plot {}: directory {} does not exist: create it or give another path",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// The points of one backend's curve: (upper bound of a latency range, share of toggles at or
/// under it), from its power-of-two histogram.
fn cumulative(b: &super::report::BackendFigures) -> Vec<(f64, f64)> {
    let total: u64 = b.histogram.iter().map(|k| k.count).sum();
    let mut seen = 0u64;
    let mut points = Vec::with_capacity(b.histogram.len() + 1);
    if let Some(first) = b.histogram.first() {
        points.push((first.from_ns as f64, 0.0));
    }
    for k in &b.histogram {
        seen += k.count;
        points.push((k.to_ns as f64, seen as f64 / total.max(1) as f64));
    }
    points
}

/// Draws the report's distributions into `path`.
pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("--plot {}: {e}", path.display());
    let curves: Vec<(&str, Vec<(f64, f64)>)> = report
        .backends
        .iter()
        .filter(|b| !b.histogram.is_empty())
        .map(|b| (b.backend, cumulative(b)))
        .collect();
    if curves.is_empty() {
        return Err(fail(
            &"no backend was measured, so there is nothing to plot",
        ));
    }
    let lo = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let hi = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(1.0, f64::max)
        .max(lo * 2.0);
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let title = format!(
        "hwkit bench: {} ({}), kernel {}",
        report.lines.arg, report.lines.described, report.host.kernel
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("latency per toggle")
        .y_desc("share of toggles at or under")
        .x_label_formatter(&|x| nanos(*x as u64))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (name, points)) in curves.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plot_paths_must_be_svg_files_in_a_directory_that_exists() {
        check_path(Path::new("out.svg")).unwrap();
        let e = check_path(Path::new("out.png")).unwrap_err();
        assert!(e.contains("give a path ending in .svg"), "{e}");
        let e = check_path(Path::new("/no/such/dir/out.svg")).unwrap_err();
        assert!(e.contains("directory /no/such/dir does not exist"), "{e}");
    }

    #[test]
    fn the_plot_is_an_svg_with_a_curve_and_a_legend_entry_per_measured_backend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.svg");
        draw(&super::super::report::tests::report(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.300}");
        let texts: Vec<&str> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit_once('>'))
            .map(|(_, text)| text.trim())
            .collect();
        for want in ["floor-ioctl", "v2", "latency per toggle", "1.00us"] {
            assert!(texts.contains(&want), "{want}: {texts:?}");
        }
        assert!(!texts.contains(&"v1"), "unavailable, not drawn: {texts:?}");
    }
}
