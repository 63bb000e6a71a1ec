//! SVG charts for the HTML report, drawn with `plotters`' SVG backend (text is emitted as SVG
//! `<text>`, so no font files are needed on the machine).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use scenarios::class::{LayerKind, MapLayer};
use scenarios::world::as_run::FaultWindow;

/// Chart size in pixels.
const W: u32 = 760;
const H: u32 = 300;

/// An axis tick as a person reads it: whole numbers with thousands separators (`1,200,000`,
/// not `1200000.0`), fractions to a tick's precision (`39.5`, `2.25`, `0.0125`).
pub fn tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        let n = v.round() as i64;
        let out = scenarios::summary::grouped(n.unsigned_abs());
        return if n < 0 { format!("-{out}") } else { out };
    }
    let s = if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A line chart of one or more named series over x (e.g. hours).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    lines_over(title, x_label, y_label, series, &Over::default())
}

/// What a line chart shows besides its series.
#[derive(Default)]
pub struct Over<'a> {
    /// Fault windows shaded behind the series (x in hours).
    pub faults: &'a [FaultWindow],
    /// Series that often coincide (sampled, acknowledged, stored) are drawn each thinner
    /// than the one before, so a line under another still shows at its edges.
    pub layered: bool,
}

const FAULT: RGBColor = RGBColor(214, 39, 40);

/// Height of the legend strip under a chart.
const LEGEND_H: u32 = 26;

/// How a legend entry is drawn.
enum Mark {
    Line(RGBAColor, u32),
    Swatch(RGBAColor),
    Dot(RGBAColor, i32),
}

/// The width a legend entry takes in the strip.
fn entry_width(label: &str) -> i32 {
    26 + 7 * label.chars().count() as i32 + 18
}

/// How many of `entries` fit one strip `width` pixels wide.
fn legend_fits(entries: &[(String, Mark)], width: u32) -> usize {
    let mut x = 74;
    entries
        .iter()
        .take_while(|(label, _)| {
            x += entry_width(label);
            x <= width as i32
        })
        .count()
}

/// The legend as one row under the chart, where it covers no data (entries wrap to the
/// width; the strip is [`LEGEND_H`] high, so a long legend is cut rather than drawn over).
fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(String, Mark)],
) {
    let style = ("sans-serif", 12)
        .into_font()
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let (width, _) = area.dim_in_pixel();
    let (mut x, y) = (74i32, (LEGEND_H / 2) as i32);
    for (label, mark) in entries {
        let w = entry_width(label);
        if x + w > width as i32 {
            break;
        }
        match mark {
            Mark::Line(c, sw) => area.draw(&PathElement::new(
                vec![(x, y), (x + 18, y)],
                c.stroke_width((*sw).min(6)),
            )),
            Mark::Swatch(c) => {
                area.draw(&Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.filled()))
            }
            Mark::Dot(c, r) => area.draw(&Circle::new((x + 9, y), *r, c.filled())),
        }
        .ok();
        area.draw(&Text::new(label.clone(), (x + 24, y), style.clone()))
            .ok();
        x += w;
    }
}

/// Shades each fault window (a line for an instant) on a chart over hours, labelled at the
/// top with its short name.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    faults: &[FaultWindow],
    y: (f64, f64),
) {
    for f in faults {
        let to = if f.to_h > f.from_h {
            f.to_h
        } else {
            f.from_h + 0.02
        };
        let area = Rectangle::new([(f.from_h, y.0), (to, y.1)], FAULT.mix(0.12).filled());
        chart.draw_series(std::iter::once(area)).ok();
    }
}

/// The fault windows' short names at the top of the plot, drawn over what the chart shows.
fn label_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    faults: &[FaultWindow],
    y: (f64, f64),
) {
    for (i, f) in faults.iter().enumerate() {
        // Staggered, so neighbouring windows' names do not overlap.
        let row = (i % 3) as f64;
        let at = (f.from_h, y.1 - (y.1 - y.0) * (0.02 + 0.06 * row));
        chart
            .draw_series(std::iter::once(Text::new(
                f.short.clone(),
                at,
                ("sans-serif", 11).into_font().color(&FAULT),
            )))
            .ok();
    }
}

/// [`lines`], with fault windows and layering ([`Over`]).
pub fn lines_over(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    over: &Over<'_>,
) -> String {
    let mut buf = String::new();
    {
        let whole = SVGBackend::with_string(&mut buf, (W, H + LEGEND_H)).into_drawing_area();
        whole.fill(&WHITE).ok();
        let (root, strip) = whole.split_vertically(H);
        let mut legend: Vec<(String, Mark)> = Vec::new();
        if !over.faults.is_empty() {
            legend.push(("fault window".into(), Mark::Swatch(FAULT.mix(0.25))));
        }
        let (x0, x1, y1) = series.iter().flat_map(|(_, v)| v.iter()).fold(
            (f64::INFINITY, f64::NEG_INFINITY, 0.0f64),
            |(a, b, c), (x, y)| (a.min(*x), b.max(*x), c.max(*y)),
        );
        let (x0, x1) = if x0.is_finite() && x1 > x0 {
            (x0, x1)
        } else {
            (0.0, 1.0)
        };
        let y_min = series
            .iter()
            .flat_map(|(_, v)| v.iter().map(|p| p.1))
            .fold(f64::INFINITY, f64::min);
        // Values that all sit far from zero (temperatures) get an axis around them; counts
        // and rates keep zero on the axis.
        let y0 = if y_min.is_finite() && y_min > 0.3 * y1 {
            (y_min - 0.1 * (y1 - y_min)).floor()
        } else {
            0.0
        };
        let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok();
        shade_faults(&mut chart, over.faults, (y0, y1));
        let n = series.len() as u32;
        for (i, (name, pts)) in series.iter().enumerate() {
            let (width, alpha) = if over.layered {
                (
                    2 + 3 * (n - 1 - i as u32),
                    if i + 1 == series.len() { 1.0 } else { 0.55 },
                )
            } else {
                (2, 1.0)
            };
            let color = Palette99::pick(i).mix(alpha);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.stroke_width(width),
                ))
                .ok();
            legend.push((name.to_string(), Mark::Line(color, width)));
        }
        label_faults(&mut chart, over.faults, (y0, y1));
        legend_strip(&strip, &legend);
        whole.present().ok();
    }
    buf
}

/// A bar chart of labelled bins (a histogram whose bins the caller has made).
pub fn bars(title: &str, x_label: &str, y_label: &str, bins: &[(String, f64)]) -> String {
    bars_scaled(title, x_label, y_label, bins, false)
}

/// A bar chart whose counts span orders of magnitude, on a log scale: a tail of a few
/// readings stays visible beside a bin of millions. The axis is labelled at powers of ten.
pub fn bars_log(title: &str, x_label: &str, y_label: &str, bins: &[(String, f64)]) -> String {
    let logged: Vec<(String, f64)> = bins
        .iter()
        .map(|(l, n)| {
            (
                l.clone(),
                if *n > 0.0 {
                    (n.log10() + 1.0).max(0.0)
                } else {
                    0.0
                },
            )
        })
        .collect();
    bars_scaled(
        title,
        x_label,
        &format!("{y_label} (log scale)"),
        &logged,
        true,
    )
}

/// The label of a log-scale tick at `v` (a bar of one reading is 1 high): powers of ten only.
fn log_tick(v: f64) -> String {
    let e = v - 1.0;
    if v >= 1.0 && (e - e.round()).abs() < 1e-6 {
        tick(10f64.powi(e.round() as i32))
    } else {
        String::new()
    }
}

fn bars_scaled(
    title: &str,
    x_label: &str,
    y_label: &str,
    bins: &[(String, f64)],
    log_y: bool,
) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).ok();
        let n = bins.len().max(1);
        let y1 = bins.iter().map(|b| b.1).fold(0.0, f64::max);
        let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
        let y_tick = |v: &f64| if log_y { log_tick(*v) } else { tick(*v) };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(64)
            // A segmented range a..b has a segment for each of a..=b.
            .build_cartesian_2d(
                (0usize..n.saturating_sub(1).max(1)).into_segmented(),
                0.0..y1,
            )
            .expect("valid ranges");
        let labels: Vec<String> = bins.iter().map(|b| b.0.clone()).collect();
        // Each bin's label under its middle; every other one when there are many.
        let every = n.div_ceil(12);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .x_labels(n + 1)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i % every == 0 => {
                    labels.get(*i).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_label_formatter(&y_tick)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .ok();
        let color = RGBColor(49, 110, 180);
        chart
            .draw_series(bins.iter().enumerate().map(|(i, b)| {
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), b.1),
                    ],
                    color.mix(0.8).filled(),
                )
            }))
            .ok();
        root.present().ok();
    }
    buf
}

/// A point on the herd map, in metres east and north of the pasture's origin.
#[derive(Clone, Copy, Debug)]
pub struct MapPoint {
    pub east_m: f64,
    pub north_m: f64,
}

/// A scale bar's length: the round 1, 2 or 5 × 10ⁿ metres nearest a fifth of `span_m`.
pub fn scale_bar_m(span_m: f64) -> f64 {
    let target = (span_m / 5.0).max(1.0);
    let p = 10f64.powf(target.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * p)
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
        .unwrap_or(p)
}

fn distance_text(m: f64) -> String {
    if m >= 1_000.0 {
        format!("{} km", tick(m / 1_000.0))
    } else {
        format!("{} m", tick(m))
    }
}

/// The herd map: the pasture outline, every (sampled) cow, the cows a tower outage cut off,
/// flagged cows in colour, and a scale bar; axes in kilometres.
pub fn map(
    title: &str,
    pasture: &[MapPoint],
    cows: &[MapPoint],
    cut_off: &[MapPoint],
    flagged: &[(&str, Vec<MapPoint>)],
) -> String {
    let mut buf = String::new();
    {
        let whole =
            SVGBackend::with_string(&mut buf, (W, W * 3 / 4 + LEGEND_H)).into_drawing_area();
        whole.fill(&WHITE).ok();
        let (root, strip) = whole.split_vertically(W * 3 / 4);
        let green = RGBColor(60, 130, 60);
        let grey = RGBColor(150, 150, 150);
        let cut = RGBColor(120, 170, 220);
        let mut legend = vec![
            ("pasture".to_string(), Mark::Line(green.to_rgba(), 2)),
            ("cow".to_string(), Mark::Dot(grey.to_rgba(), 3)),
        ];
        if !cut_off.is_empty() {
            legend.push((
                "cut off by a tower outage".to_string(),
                Mark::Dot(cut.to_rgba(), 3),
            ));
        }
        let all = pasture.iter().chain(cows);
        let (x0, x1, y0, y1) = all.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), p| {
                (
                    a.min(p.east_m),
                    b.max(p.east_m),
                    c.min(p.north_m),
                    d.max(p.north_m),
                )
            },
        );
        let (x0, x1, y0, y1) = if x0.is_finite() && x1 > x0 && y1 > y0 {
            (x0, x1, y0, y1)
        } else {
            (0.0, 1.0, 0.0, 1.0)
        };
        let pad = 0.03 * (x1 - x0).max(y1 - y0);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0 - pad..x1 + pad, y0 - pad..y1 + pad)
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc("km east")
            .y_desc("km north")
            .x_label_formatter(&|v| tick(*v / 1_000.0))
            .y_label_formatter(&|v| tick(*v / 1_000.0))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .ok();
        let mut outline: Vec<(f64, f64)> = pasture.iter().map(|p| (p.east_m, p.north_m)).collect();
        if let Some(first) = outline.first().copied() {
            outline.push(first);
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                outline,
                green.stroke_width(2),
            )))
            .ok();
        chart
            .draw_series(
                cows.iter()
                    .map(|p| Circle::new((p.east_m, p.north_m), 1, grey.filled())),
            )
            .ok();
        if !cut_off.is_empty() {
            chart
                .draw_series(
                    cut_off
                        .iter()
                        .map(|p| Circle::new((p.east_m, p.north_m), 1, cut.filled())),
                )
                .ok();
        }
        // A scale bar at the lower left, inside the pad under the pasture.
        let bar = scale_bar_m(x1 - x0);
        let (bx, by) = (x0, y0 - pad * 0.5);
        chart
            .draw_series([PathElement::new(
                vec![(bx, by), (bx + bar, by)],
                BLACK.stroke_width(3),
            )])
            .ok();
        chart
            .draw_series(std::iter::once(Text::new(
                distance_text(bar),
                (bx + bar * 1.05, by + pad * 0.25),
                ("sans-serif", 12),
            )))
            .ok();
        let colours = [
            RGBColor(214, 39, 40),
            RGBColor(255, 127, 14),
            RGBColor(148, 103, 189),
        ];
        for (i, (name, pts)) in flagged.iter().enumerate() {
            let c = colours[i % colours.len()];
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.east_m, p.north_m), 4, c.filled())),
                )
                .ok();
            legend.push((name.to_string(), Mark::Dot(c.to_rgba(), 4)));
        }
        legend_strip(&strip, &legend);
        whole.present().ok();
    }
    buf
}

/// A site map: layers of outlines (lightly filled), polylines and dots, in metres, drawn in
/// order with one colour each and a legend entry per layer. The axes keep the site's aspect.
pub fn site_map(title: &str, layers: &[MapLayer]) -> String {
    let mut buf = String::new();
    {
        // Two legend rows: a site has more layers than a chart has series.
        let whole =
            SVGBackend::with_string(&mut buf, (W, W * 3 / 4 + 2 * LEGEND_H)).into_drawing_area();
        whole.fill(&WHITE).ok();
        let (root, strips) = whole.split_vertically(W * 3 / 4);
        let (strip1, strip2) = strips.split_vertically(LEGEND_H);
        let mut legend: Vec<(String, Mark)> = Vec::new();
        let pts = layers.iter().flat_map(|l| l.shapes.iter().flatten());
        let (x0, x1, y0, y1) = pts.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), p| (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1)),
        );
        let (x0, x1, y0, y1) = if x0.is_finite() && x1 > x0 && y1 > y0 {
            (x0, x1, y0, y1)
        } else {
            (0.0, 1.0, 0.0, 1.0)
        };
        // The same metres per pixel both ways: widen the shorter extent about its centre.
        let (w, h) = (x1 - x0, y1 - y0);
        let aspect = f64::from(W - 84) / f64::from(W * 3 / 4 - 76);
        let (w2, h2) = if w / h > aspect {
            (w, w / aspect)
        } else {
            (h * aspect, h)
        };
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let pad = 0.03 * w2.max(h2);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(
                cx - w2 / 2.0 - pad..cx + w2 / 2.0 + pad,
                cy - h2 / 2.0 - pad..cy + h2 / 2.0 + pad,
            )
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc("metres east")
            .y_desc("metres north")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()
            .ok();
        for (i, layer) in layers.iter().enumerate() {
            let c = Palette99::pick(i).to_rgba();
            legend.push((
                layer.name.clone(),
                match layer.kind {
                    LayerKind::Areas => Mark::Swatch(c.mix(0.35)),
                    LayerKind::Lines => Mark::Line(c, 3),
                    LayerKind::Points => Mark::Dot(c, 3),
                },
            ));
            match layer.kind {
                LayerKind::Areas => {
                    chart
                        .draw_series(
                            layer
                                .shapes
                                .iter()
                                .map(|s| Polygon::new(s.clone(), c.mix(0.12).filled())),
                        )
                        .ok();
                    chart
                        .draw_series(layer.shapes.iter().map(|s| {
                            let mut ring = s.clone();
                            if let Some(first) = ring.first().copied() {
                                ring.push(first);
                            }
                            PathElement::new(ring, c.stroke_width(2))
                        }))
                        .ok();
                }
                LayerKind::Lines => {
                    chart
                        .draw_series(
                            layer
                                .shapes
                                .iter()
                                .map(|s| PathElement::new(s.clone(), c.stroke_width(2))),
                        )
                        .ok();
                }
                LayerKind::Points => {
                    chart
                        .draw_series(
                            layer
                                .shapes
                                .iter()
                                .flatten()
                                .map(|p| Circle::new(*p, 2, c.filled())),
                        )
                        .ok();
                }
            }
        }
        let rest = legend.split_off(legend_fits(&legend, W));
        legend_strip(&strip1, &legend);
        legend_strip(&strip2, &rest);
        whole.present().ok();
    }
    buf
}

/// One row of the alerts timeline: a device's true episode (if any) and its alerts.
#[derive(Clone, Debug)]
pub struct TimelineRow {
    pub label: String,
    /// The true episode as hours from the start, if the device had one.
    pub episode_h: Option<(f64, f64)>,
    /// Alert times in hours, with whether each matched an episode.
    pub alerts_h: Vec<(f64, bool)>,
}

/// The alerts timeline: true episodes as bars, alerts as markers (green matched, red false),
/// a label on every row, fault windows shaded, the legend above the plot.
pub fn timeline(
    title: &str,
    duration_h: f64,
    rows: &[TimelineRow],
    faults: &[FaultWindow],
) -> String {
    let mut buf = String::new();
    let height = 110 + 18 * rows.len().max(1) as u32;
    {
        let root = SVGBackend::with_string(&mut buf, (W, height)).into_drawing_area();
        root.fill(&WHITE).ok();
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(64)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..duration_h.max(1.0), 0.0..n as f64)
            .expect("valid ranges");
        chart
            .configure_mesh()
            .x_desc("hours")
            .x_label_formatter(&|v| tick(*v))
            .disable_y_mesh()
            .y_labels(0)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .ok();
        // Every row's label, right-aligned against the axis at the row's middle.
        let style = ("sans-serif", 11)
            .into_font()
            .into_text_style(&root)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, r) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(0.0, i as f64 + 0.5));
            root.draw(&Text::new(r.label.clone(), (x - 6, y), style.clone()))
                .ok();
        }
        shade_faults(&mut chart, faults, (0.0, n as f64));
        let bar = RGBColor(250, 200, 120);
        chart
            .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
                r.episode_h.map(|(a, b)| {
                    Rectangle::new([(a, i as f64 + 0.2), (b, i as f64 + 0.8)], bar.filled())
                })
            }))
            .ok();
        let good = RGBColor(44, 160, 44);
        let bad = RGBColor(214, 39, 40);
        chart
            .draw_series(rows.iter().enumerate().flat_map(|(i, r)| {
                r.alerts_h.iter().map(move |(t, ok)| {
                    TriangleMarker::new(
                        (*t, i as f64 + 0.5),
                        6,
                        if *ok { good.filled() } else { bad.filled() },
                    )
                })
            }))
            .ok();
        label_faults(&mut chart, faults, (0.0, n as f64));
        // The legend, under the axis where it covers nothing.
        let legend = ("sans-serif", 12)
            .into_font()
            .into_text_style(&root)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let y = height as i32 - 16;
        let mut x = 170;
        root.draw(&Rectangle::new([(x, y - 5), (x + 16, y + 5)], bar.filled()))
            .ok();
        root.draw(&Text::new("true episode", (x + 22, y), legend.clone()))
            .ok();
        x += 120;
        for (label, colour) in [("true alert", good), ("false alert", bad)] {
            root.draw(&TriangleMarker::new((x + 8, y), 5, colour.filled()))
                .ok();
            root.draw(&Text::new(label, (x + 20, y), legend.clone()))
                .ok();
            x += 100;
        }
        if !faults.is_empty() {
            root.draw(&Rectangle::new(
                [(x, y - 5), (x + 16, y + 5)],
                FAULT.mix(0.25).filled(),
            ))
            .ok();
            root.draw(&Text::new("fault window", (x + 22, y), legend))
                .ok();
        }
        root.present().ok();
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::tick;
    #[test]
    fn ticks_read_as_numbers_a_person_writes() {
        assert_eq!(tick(1_200_000.0), "1,200,000");
        assert_eq!(tick(1_234.56), "1,235");
        assert_eq!(tick(-45_000.0), "-45,000");
        assert_eq!(tick(40.0), "40");
        assert_eq!(tick(39.55), "39.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.0125), "0.0125");
        assert_eq!(tick(0.005), "0.005");
        // On the log scale a bar of one reading is 1 high, of a thousand 4.
        assert_eq!(super::log_tick(1.0), "1");
        assert_eq!(super::log_tick(4.0), "1,000");
        assert_eq!(super::log_tick(2.5), "");
    }

    #[test]
    fn a_line_chart_is_svg_with_its_title_and_legend() {
        let svg = super::lines(
            "Messages per hour",
            "hour",
            "messages",
            &[
                ("sent", vec![(0.0, 1.0), (1.0, 3.0)]),
                ("stored", vec![(0.0, 1.0), (1.0, 2.0)]),
            ],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("Messages per hour") && svg.contains("stored"));
    }

    #[test]
    fn the_map_and_timeline_draw_every_layer() {
        use super::*;
        let sq = |x: f64, y: f64| MapPoint {
            east_m: x,
            north_m: y,
        };
        let svg = map(
            "Herd",
            &[sq(0.0, 0.0), sq(100.0, 0.0), sq(100.0, 100.0)],
            &[sq(10.0, 10.0)],
            &[sq(20.0, 20.0)],
            &[("fever", vec![sq(50.0, 50.0)])],
        );
        assert!(svg.contains("pasture") && svg.contains("fever") && svg.contains("<circle"));
        assert!(
            svg.contains("cut off by a tower outage") && svg.contains("20 m\n"),
            "{svg}"
        );
        let svg = timeline(
            "Alerts",
            24.0,
            &[TimelineRow {
                label: "cow-7".into(),
                episode_h: Some((2.0, 5.0)),
                alerts_h: vec![(2.5, true)],
            }],
            &[FaultWindow {
                short: "outage".into(),
                label: "outage of 2 towers".into(),
                from_h: 9.5,
                to_h: 10.2,
            }],
        );
        assert!(svg.contains("cow-7") && svg.contains("true episode"));
        assert!(
            svg.contains("outage\n") && svg.contains("fault window"),
            "{svg}"
        );
        let svg = bars(
            "Latency",
            "ms",
            "readings",
            &[("0-10".into(), 5.0), ("10-20".into(), 2.0)],
        );
        assert!(svg.contains("0-10") && svg.contains("<rect"));
    }
}
